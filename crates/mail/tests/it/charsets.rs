//! Hand-made mails in the legacy charsets customers' clients still send: Portuguese in ISO-8859-1
//! and Russian in windows-1251, as 8-bit bodies, quoted-printable bodies and RFC 2047/2231 headers.

use concierge_mail::{parse_message, to_inbound, MailKind};
use concierge_types::conversation::Content;

fn latin1(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| u8::try_from(u32::from(c)).expect("not in ISO-8859-1"))
        .collect()
}

fn cp1251(s: &str) -> Vec<u8> {
    s.chars()
        .map(|c| match c {
            'А'..='я' => 0xC0 + (u32::from(c) - u32::from('А')) as u8,
            'Ё' => 0xA8,
            'ё' => 0xB8,
            '№' => 0xB9,
            c if c.is_ascii() => c as u8,
            c => panic!("{c} not in windows-1251 here"),
        })
        .collect()
}

/// Quoted-printable for headers (RFC 2047 "Q") and bodies: every non-ASCII byte as `=XX`.
fn q(bytes: &[u8], space: &str) -> String {
    bytes
        .iter()
        .map(|&b| match b {
            b' ' => space.to_string(),
            b'=' | b'?' | b'_' | 0x80..=0xFF => format!("={b:02X}"),
            b => (b as char).to_string(),
        })
        .collect()
}

#[test]
fn portuguese_iso_8859_1_eight_bit_body_and_encoded_headers() {
    let mut raw = Vec::new();
    raw.extend_from_slice(b"From: =?ISO-8859-1?Q?");
    raw.extend_from_slice(q(&latin1("João Conceição"), "_").as_bytes());
    raw.extend_from_slice(b"?= <Joao.Conceicao@Example.com.br>\r\n");
    raw.extend_from_slice(b"To: atendimento@loja.example\r\nSubject: =?iso-8859-1?Q?");
    raw.extend_from_slice(q(&latin1("Pedido não recebido"), "_").as_bytes());
    raw.extend_from_slice(
        b"?=\r\nMessage-ID: <pt-1@example.com.br>\r\nDate: Tue, 5 Mar 2024 09:30:00 -0300\r\n\
MIME-Version: 1.0\r\nContent-Type: text/plain; charset=ISO-8859-1\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n",
    );
    let body = "Olá, ainda não recebi o pedido nº 123. Poderiam verificar a situação?\r\n\
Obrigado,\r\nJoão\r\n\r\n\
Em seg., 4 de mar. de 2024 às 18:02, Loja Exemplo <\r\natendimento@loja.example> escreveu:\r\n\r\n\
> Seu pedido foi enviado. Código de rastreio: BR123.\r\n";
    raw.extend_from_slice(&latin1(body));

    let m = parse_message(&raw, "BR").unwrap();
    let from = m.from.as_ref().unwrap();
    assert_eq!(from.name.as_deref(), Some("João Conceição"));
    assert_eq!(from.address, "Joao.Conceicao@Example.com.br");
    assert_eq!(
        m.from_identifier.as_ref().unwrap().value,
        "joao.conceicao@example.com.br"
    );
    assert_eq!(m.subject, "Pedido não recebido");
    assert!(m.text.contains("Código de rastreio"), "{}", m.text);
    assert_eq!(
        m.new_text,
        "Olá, ainda não recebi o pedido nº 123. Poderiam verificar a situação?\nObrigado,\nJoão"
    );
    // 09:30 at -03:00 is 12:30 UTC.
    assert_eq!(m.date, Some(1_709_641_800_000));
    let msg = to_inbound(&m).unwrap();
    assert_eq!(msg.contact.name.as_deref(), Some("João Conceição"));
    assert!(matches!(&msg.content, Content::Text { text } if text.starts_with("Olá, ainda não")));
}

#[test]
fn portuguese_quoted_printable_with_an_rfc2231_attachment_name() {
    let body = q(
        &latin1("Segue a nota fiscal. Não consegui abrir o boleto."),
        " ",
    );
    let raw = format!(
        "From: Maria <maria@example.com.br>\r\n\
To: atendimento@loja.example\r\n\
Subject: Nota fiscal\r\n\
Message-ID: <pt-2@example.com.br>\r\n\
Date: Tue, 5 Mar 2024 10:00:00 -0300\r\n\
MIME-Version: 1.0\r\n\
Content-Type: multipart/mixed; boundary=\"b1\"\r\n\
\r\n\
--b1\r\n\
Content-Type: text/plain; charset=\"iso-8859-1\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\
\r\n\
{body}\r\n\
--b1\r\n\
Content-Type: application/pdf\r\n\
Content-Disposition: attachment; filename*=ISO-8859-1''nota%20fiscal%20n%BA%2042.pdf\r\n\
Content-Transfer-Encoding: base64\r\n\
\r\n\
JVBERi0xLjQKJcfsj6IK\r\n\
--b1--\r\n"
    );
    let m = parse_message(raw.as_bytes(), "BR").unwrap();
    assert_eq!(m.text, "Segue a nota fiscal. Não consegui abrir o boleto.");
    assert_eq!(m.attachments.len(), 1);
    let a = &m.attachments[0];
    assert_eq!(a.filename.as_deref(), Some("nota fiscal nº 42.pdf"));
    assert_eq!(a.mime_type, "application/pdf");
    assert_eq!(a.size, 15);
    assert!(!a.inline);
    assert_eq!(m.kind, MailKind::Customer);
}

#[test]
fn russian_windows_1251_eight_bit_and_quoted_printable() {
    let subject = q(&cp1251("Заказ №42 не пришёл"), "_");
    let name = q(&cp1251("Иван Петров"), "_");
    let mut raw = format!(
        "From: =?windows-1251?Q?{name}?= <ivan@example.ru>\r\n\
To: support@shop.example\r\n\
Subject: =?WINDOWS-1251?Q?{subject}?=\r\n\
Message-ID: <ru-1@example.ru>\r\n\
Date: Wed, 6 Mar 2024 15:00:00 +0300\r\n\
MIME-Version: 1.0\r\n\
Content-Type: text/plain; charset=windows-1251\r\n\
Content-Transfer-Encoding: 8bit\r\n\r\n"
    )
    .into_bytes();
    raw.extend_from_slice(&cp1251(
        "Здравствуйте! Мой заказ ещё не доставлен. Ёлка.\r\n",
    ));
    let m = parse_message(&raw, "RU").unwrap();
    assert_eq!(m.subject, "Заказ №42 не пришёл");
    assert_eq!(
        m.from.as_ref().unwrap().name.as_deref(),
        Some("Иван Петров")
    );
    assert_eq!(m.text, "Здравствуйте! Мой заказ ещё не доставлен. Ёлка.");

    // The same body quoted-printable, charset spelled the other common way.
    let qp = q(&cp1251("Спасибо, всё получил."), " ");
    let raw = format!(
        "From: ivan@example.ru\r\nSubject: ok\r\nContent-Type: text/plain; charset=\"cp1251\"\r\n\
Content-Transfer-Encoding: quoted-printable\r\n\r\n{qp}\r\n"
    );
    let m = parse_message(raw.as_bytes(), "RU").unwrap();
    assert_eq!(m.text, "Спасибо, всё получил.");
    // No Message-ID: a stable one from the bytes.
    assert!(m.message_id_synthesized);
    assert!(m.message_id.ends_with("@concierge.invalid"));
    assert_eq!(
        m.message_id,
        parse_message(raw.as_bytes(), "RU").unwrap().message_id
    );
    assert_eq!(m.thread_root, m.message_id);
    assert_eq!(to_inbound(&m).unwrap().provider_id, m.message_id);
}
