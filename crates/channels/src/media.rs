//! Files the brand sends: what an upload must be before it is kept ([`check_upload`]), and the
//! per-provider limits the plug-ins apply when they build the send.
//!
//! A file's type is read from its first bytes, never taken from the browser's word or the name
//! alone, and only types every channel can show are kept: pictures (JPEG, PNG, GIF, WebP), PDF,
//! audio (MP3, Ogg, M4A), MP4 video, plain text and CSV, and office documents. Markup that a
//! browser would run (HTML, SVG, XML) and programs are refused. The name must end in an extension
//! of that type, so a PDF can't pose as a picture nor a picture as a PDF.

use concierge_types::conversation::MediaKind;

/// The largest file an agent may send (WhatsApp's limit for audio and video).
pub const MAX_UPLOAD_BYTES: usize = 16 << 20;
/// The longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 120;

/// An upload that passed [`check_upload`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checked {
    /// The cleaned name: no path, no control or direction-changing characters.
    pub filename: String,
    pub mime_type: &'static str,
    pub media: MediaKind,
}

/// One accepted type: its MIME type, kind, the extensions its name may end in (the first one is
/// added to a name without any) and whether some bytes are of it.
struct FileType {
    mime: &'static str,
    media: MediaKind,
    extensions: &'static [&'static str],
    is: fn(&[u8]) -> bool,
    /// The bytes alone don't tell (text, zip containers): the name's extension must say it.
    needs_name: bool,
}

fn zip(b: &[u8]) -> bool {
    b.starts_with(b"PK\x03\x04")
}

fn mp4_brand(b: &[u8]) -> Option<&[u8]> {
    (b.len() >= 12 && &b[4..8] == b"ftyp").then(|| &b[8..12])
}

/// Text a person wrote: UTF-8 without NULs or control characters other than tab and line ends.
fn plain_text(b: &[u8]) -> bool {
    std::str::from_utf8(b).is_ok_and(|t| {
        !t.chars()
            .any(|c| c.is_control() && !matches!(c, '\t' | '\n' | '\r'))
    })
}

static TYPES: &[FileType] = &[
    FileType {
        mime: "image/jpeg",
        media: MediaKind::Image,
        extensions: &["jpg", "jpeg"],
        is: |b| b.starts_with(&[0xFF, 0xD8, 0xFF]),
        needs_name: false,
    },
    FileType {
        mime: "image/png",
        media: MediaKind::Image,
        extensions: &["png"],
        is: |b| b.starts_with(b"\x89PNG\r\n\x1a\n"),
        needs_name: false,
    },
    FileType {
        mime: "image/gif",
        media: MediaKind::Image,
        extensions: &["gif"],
        is: |b| b.starts_with(b"GIF87a") || b.starts_with(b"GIF89a"),
        needs_name: false,
    },
    FileType {
        mime: "image/webp",
        media: MediaKind::Image,
        extensions: &["webp"],
        is: |b| b.len() >= 12 && b.starts_with(b"RIFF") && &b[8..12] == b"WEBP",
        needs_name: false,
    },
    FileType {
        mime: "application/pdf",
        media: MediaKind::Document,
        extensions: &["pdf"],
        is: |b| b.starts_with(b"%PDF-"),
        needs_name: false,
    },
    FileType {
        mime: "audio/mpeg",
        media: MediaKind::Audio,
        extensions: &["mp3"],
        is: |b| b.starts_with(b"ID3") || (b.len() >= 2 && b[0] == 0xFF && b[1] & 0xE0 == 0xE0),
        needs_name: false,
    },
    FileType {
        mime: "audio/ogg",
        media: MediaKind::Audio,
        extensions: &["ogg", "oga", "opus"],
        is: |b| b.starts_with(b"OggS"),
        needs_name: false,
    },
    FileType {
        mime: "audio/mp4",
        media: MediaKind::Audio,
        extensions: &["m4a"],
        // Recorders write M4A with `isom` or `mp42` brands too: the name tells it from video.
        is: |b| mp4_brand(b).is_some(),
        needs_name: true,
    },
    FileType {
        mime: "video/mp4",
        media: MediaKind::Video,
        extensions: &["mp4", "m4v"],
        is: |b| mp4_brand(b).is_some(),
        needs_name: false,
    },
    FileType {
        mime: "text/csv",
        media: MediaKind::Document,
        extensions: &["csv"],
        is: plain_text,
        needs_name: true,
    },
    FileType {
        mime: "text/plain",
        media: MediaKind::Document,
        extensions: &["txt"],
        is: plain_text,
        needs_name: true,
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        media: MediaKind::Document,
        extensions: &["docx"],
        is: zip,
        needs_name: true,
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        media: MediaKind::Document,
        extensions: &["xlsx"],
        is: zip,
        needs_name: true,
    },
    FileType {
        mime: "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        media: MediaKind::Document,
        extensions: &["pptx"],
        is: zip,
        needs_name: true,
    },
    FileType {
        mime: "application/vnd.oasis.opendocument.text",
        media: MediaKind::Document,
        extensions: &["odt"],
        is: zip,
        needs_name: true,
    },
    FileType {
        mime: "application/vnd.oasis.opendocument.spreadsheet",
        media: MediaKind::Document,
        extensions: &["ods"],
        is: zip,
        needs_name: true,
    },
];

/// Every extension an upload may have, for a file picker's `accept` (`.jpg,.jpeg,…`).
pub fn accepted_extensions() -> String {
    let all: Vec<String> = TYPES
        .iter()
        .flat_map(|t| t.extensions.iter().map(|e| format!(".{e}")))
        .collect();
    all.join(",")
}

/// What a file of these bytes named `name` may be kept as, or why not.
pub fn check_upload(name: &str, bytes: &[u8]) -> Result<Checked, String> {
    if bytes.is_empty() {
        return Err("the file is empty".into());
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(format!(
            "the file is {:.1} MB; at most {} MB can be sent",
            bytes.len() as f64 / 1048576.0,
            MAX_UPLOAD_BYTES >> 20
        ));
    }
    let cleaned = clean_name(name);
    let ext = extension(&cleaned);
    // Types told apart by bytes come first; text and zip-based documents need the name too.
    let by_bytes: Vec<&FileType> = TYPES.iter().filter(|t| (t.is)(bytes)).collect();
    let Some(found) = by_bytes
        .iter()
        .find(|t| ext.as_deref().is_some_and(|e| t.extensions.contains(&e)))
        .or_else(|| by_bytes.iter().find(|t| !t.needs_name))
    else {
        return Err(match ext {
            Some(e) => format!(
                "files of type .{e} (or with these contents) can't be sent; send a picture, PDF, audio, MP4 video, text, CSV or office document"
            ),
            None => "the file's type is not one that can be sent; send a picture, PDF, audio, MP4 video, text, CSV or office document".into(),
        });
    };
    let filename = match &ext {
        Some(e) if found.extensions.contains(&e.as_str()) => cleaned,
        Some(e) => {
            return Err(format!(
                "the file's contents are {} but its name ends in .{e}; rename it to .{}",
                found.mime, found.extensions[0]
            ))
        }
        None => {
            let stem = if cleaned.is_empty() { "file" } else { &cleaned };
            format!("{stem}.{}", found.extensions[0])
        }
    };
    Ok(Checked {
        filename,
        mime_type: found.mime,
        media: found.media,
    })
}

/// The last path part of `name` with control, invisible and direction-changing characters
/// dropped (a right-to-left override can make `invoice<U+202E>fdp.exe` read as `invoiceexe.pdf`), characters file systems
/// refuse replaced, leading dots and edge spaces trimmed, and at most [`MAX_NAME_CHARS`] long
/// (the extension kept).
pub fn clean_name(name: &str) -> String {
    let last = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let kept: String = last
        .chars()
        .filter(|c| {
            !c.is_control()
                && !matches!(c, '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2060}'..='\u{2069}' | '\u{FEFF}')
        })
        .map(|c| match c {
            '"' | '<' | '>' | ':' | '|' | '?' | '*' => '_',
            c => c,
        })
        .collect();
    let trimmed = kept.trim().trim_start_matches('.').trim().to_string();
    if trimmed.chars().count() <= MAX_NAME_CHARS {
        return trimmed;
    }
    let (stem, ext) = match trimmed.rsplit_once('.') {
        Some((s, e)) if e.chars().count() <= 8 => (s, format!(".{e}")),
        _ => (trimmed.as_str(), String::new()),
    };
    let keep = MAX_NAME_CHARS - ext.chars().count();
    format!("{}{ext}", stem.chars().take(keep).collect::<String>())
}

/// The lower-case extension of a name, if it has one.
fn extension(name: &str) -> Option<String> {
    let (stem, ext) = name.rsplit_once('.')?;
    (!stem.is_empty() && !ext.is_empty() && ext.len() <= 8).then(|| ext.to_ascii_lowercase())
}

/// Refuses a file over a provider's limit, naming both.
pub(crate) fn check_size(size: u64, max: u64, what: &str) -> Result<(), String> {
    if size > max {
        return Err(format!(
            "the file is {:.1} MB; {what} takes at most {:.0} MB",
            size as f64 / 1048576.0,
            max as f64 / 1048576.0
        ));
    }
    Ok(())
}

/// Refuses a URL a provider could not fetch: it must be absolute http(s).
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    if url.starts_with("https://") || url.starts_with("http://") {
        Ok(())
    } else {
        Err("the file has no address the provider can fetch it from (set public_url)".into())
    }
}

pub(crate) const MB: u64 = 1 << 20;

/// Refuses a caption longer than `max` characters (0: none at all) on `what`.
pub(crate) fn check_caption(
    caption: &Option<String>,
    max: usize,
    what: &str,
) -> Result<(), String> {
    match caption {
        Some(c) if max == 0 => Err(format!(
            "{what} shows no text with this file; send the text as its own message ({} characters)",
            c.chars().count()
        )),
        Some(c) if c.chars().count() > max => Err(format!(
            "the text is {} characters; {what} takes at most {max} with a file",
            c.chars().count()
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const PDF: &[u8] = b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n";

    #[test]
    fn types_come_from_the_bytes_and_must_match_the_name() {
        let png = check_upload("Foto do pedido.PNG", PNG).unwrap();
        assert_eq!(
            (png.mime_type, png.media, png.filename.as_str()),
            ("image/png", MediaKind::Image, "Foto do pedido.PNG")
        );
        let pdf = check_upload("nota fiscal.pdf", PDF).unwrap();
        assert_eq!(pdf.mime_type, "application/pdf");
        let err = check_upload("foto.png", PDF).unwrap_err();
        assert!(
            err.contains("application/pdf") && err.contains(".pdf"),
            "{err}"
        );
        assert_eq!(check_upload("scan", PDF).unwrap().filename, "scan.pdf");
        let csv = check_upload("pedidos.csv", "id;valor\n1;9,90\n".as_bytes()).unwrap();
        assert_eq!(csv.mime_type, "text/csv");
        let txt = check_upload("nota.txt", "Olá, שלום".as_bytes()).unwrap();
        assert_eq!(txt.mime_type, "text/plain");
        let m4a = b"\0\0\0\x1cftypisom\0\0\x02\0isomiso2mp41";
        assert_eq!(check_upload("voz.m4a", m4a).unwrap().mime_type, "audio/mp4");
        assert_eq!(
            check_upload("video.mp4", m4a).unwrap().mime_type,
            "video/mp4"
        );
        assert_eq!(
            check_upload("sem nome", m4a).unwrap().filename,
            "sem nome.mp4"
        );
        let docx = check_upload("contrato.docx", b"PK\x03\x04rest").unwrap();
        assert_eq!(docx.media, MediaKind::Document);
    }

    #[test]
    fn markup_programs_and_unknown_bytes_are_refused() {
        for (name, bytes) in [
            ("page.html", &b"<html><script>alert(1)</script>"[..]),
            ("logo.svg", b"<svg onload=alert(1)>"),
            ("setup.exe", b"MZ\x90\0\x03\0\0\0"),
            ("archive.zip", b"PK\x03\x04"),
            ("noext", b"<html>"),
            ("empty.txt", b""),
            ("bin.txt", b"abc\0def"),
        ] {
            assert!(check_upload(name, bytes).is_err(), "{name} was accepted");
        }
        let big = vec![b'a'; MAX_UPLOAD_BYTES + 1];
        assert!(check_upload("big.txt", &big).unwrap_err().contains("MB"));
    }

    #[test]
    fn names_lose_paths_and_tricks() {
        assert_eq!(clean_name("C:\\Users\\ana\\boleto.pdf"), "boleto.pdf");
        assert_eq!(clean_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_name("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(clean_name("..hidden.txt"), "hidden.txt");
        assert_eq!(clean_name("a\r\nb\"<c>.txt"), "ab__c_.txt");
        let long = format!("{}.pdf", "x".repeat(300));
        let cut = clean_name(&long);
        assert_eq!(cut.chars().count(), MAX_NAME_CHARS);
        assert!(cut.ends_with(".pdf"));
        // A trick hidden in the name can't survive to become the extension.
        let err = check_upload("foto\u{202E}gnp.pdf", PNG).unwrap_err();
        assert!(err.contains(".pdf"), "{err}");
        assert_eq!(
            check_upload("ملف.png", PNG).unwrap().filename,
            "ملف.png",
            "right-to-left names are kept"
        );
    }
}
