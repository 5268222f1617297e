//! Normalisation of identifiers (email addresses, phone numbers) for identity resolution.
//!
//! Two spellings of the same identifier must normalise to the same string, and values that
//! belong to different people must not. Pure std; never panics on any input.

use std::borrow::Cow;
use std::fmt;

/// Why a value could not be normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NormalizeError {
    /// Nothing left after trimming whitespace.
    Empty,
    /// Longer than any valid value of its kind.
    TooLong,
    /// Not a valid value; the message says why.
    Invalid(&'static str),
    /// The region code is not in the region table.
    UnknownRegion(String),
}

impl fmt::Display for NormalizeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("value is empty"),
            Self::TooLong => f.write_str("value is too long"),
            Self::Invalid(why) => f.write_str(why),
            Self::UnknownRegion(region) => write!(f, "unknown region code {region:?}"),
        }
    }
}

impl std::error::Error for NormalizeError {}

// ---------------------------------------------------------------------------------------------
// Email
// ---------------------------------------------------------------------------------------------

const MAX_EMAIL_CHARS: usize = 254;
const MAX_LOCAL_CHARS: usize = 64;
const MAX_LABEL_CHARS: usize = 63;

const EMAIL_NO_AT: &str = "not a valid email address: missing '@'";
const EMAIL_MANY_AT: &str = "not a valid email address: more than one '@'";
const EMAIL_EMPTY_LOCAL: &str = "not a valid email address: nothing before '@'";
const EMAIL_BAD_LOCAL: &str = "not a valid email address: invalid character before '@'";
const EMAIL_BAD_DOTS: &str = "not a valid email address: misplaced '.' before '@'";
const EMAIL_NO_DOT: &str = "not a valid email address: domain has no '.'";
const EMAIL_BAD_DOMAIN: &str = "not a valid email address: invalid domain";

/// Lower-cases and trims an email address; validates shape (one @, non-empty local part <= 64,
/// domain with a dot, labels of [a-z0-9-] not starting/ending with '-', total <= 254). Unicode
/// domains are kept lower-cased as is.
///
/// Does NOT remove dots or +tags (that would merge different people on non-Gmail providers)
/// EXCEPT: for gmail.com and googlemail.com, dots in the local part are removed and a +tag is
/// dropped, and googlemail.com becomes gmail.com.
///
/// Quoted local parts (`"a b"@x.com`) and IP-literal domains are rejected: they do not occur
/// in customer data often enough to be worth the ambiguity.
pub fn normalize_email(raw: &str) -> Result<String, NormalizeError> {
    let trimmed = raw.trim();
    if trimmed.is_empty() {
        return Err(NormalizeError::Empty);
    }
    // Lower-casing never reduces the number of chars, so this early check is sound and
    // avoids allocating for huge inputs.
    if trimmed.chars().count() > MAX_EMAIL_CHARS {
        return Err(NormalizeError::TooLong);
    }
    let email = trimmed.to_lowercase();
    if email.chars().count() > MAX_EMAIL_CHARS {
        return Err(NormalizeError::TooLong);
    }
    let Some((local, domain)) = email.split_once('@') else {
        return Err(NormalizeError::Invalid(EMAIL_NO_AT));
    };
    if domain.contains('@') {
        return Err(NormalizeError::Invalid(EMAIL_MANY_AT));
    }
    if local.is_empty() {
        return Err(NormalizeError::Invalid(EMAIL_EMPTY_LOCAL));
    }
    if local.chars().count() > MAX_LOCAL_CHARS {
        return Err(NormalizeError::TooLong);
    }
    check_local(local)?;
    check_domain(domain)?;

    if domain == "gmail.com" || domain == "googlemail.com" {
        // Gmail ignores dots and +tags, so all these spellings reach the same inbox.
        let user = local.split('+').next().unwrap_or_default();
        let user: String = user.chars().filter(|&c| c != '.').collect();
        if user.is_empty() {
            return Err(NormalizeError::Invalid(EMAIL_EMPTY_LOCAL));
        }
        return Ok(format!("{user}@gmail.com"));
    }
    Ok(email)
}

fn check_local(local: &str) -> Result<(), NormalizeError> {
    if local.starts_with('.') || local.ends_with('.') || local.contains("..") {
        return Err(NormalizeError::Invalid(EMAIL_BAD_DOTS));
    }
    let bad = |c: char| {
        c.is_whitespace()
            || c.is_control()
            || is_invisible(c)
            || matches!(
                c,
                '"' | '(' | ')' | ',' | ':' | ';' | '<' | '>' | '[' | '\\' | ']'
            )
    };
    if local.chars().any(bad) {
        return Err(NormalizeError::Invalid(EMAIL_BAD_LOCAL));
    }
    Ok(())
}

fn check_domain(domain: &str) -> Result<(), NormalizeError> {
    // Non-ASCII is allowed as is (IDN), except characters that are invisible or break parsing.
    let label_char = |c: char| {
        c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || c == '-'
            || (!c.is_ascii() && !c.is_whitespace() && !c.is_control() && !is_invisible(c))
    };
    let mut labels = 0usize;
    let mut last = "";
    for label in domain.split('.') {
        let len = label.chars().count();
        if len == 0
            || len > MAX_LABEL_CHARS
            || label.starts_with('-')
            || label.ends_with('-')
            || !label.chars().all(label_char)
        {
            return Err(NormalizeError::Invalid(EMAIL_BAD_DOMAIN));
        }
        labels += 1;
        last = label;
    }
    if labels < 2 {
        return Err(NormalizeError::Invalid(EMAIL_NO_DOT));
    }
    // An all-numeric TLD means an IP address or a typo, never a mailbox domain.
    if last.bytes().all(|b| b.is_ascii_digit()) {
        return Err(NormalizeError::Invalid(EMAIL_BAD_DOMAIN));
    }
    Ok(())
}

/// Zero-width and bidi formatting characters: common in copy-pasted data, invisible to people.
fn is_invisible(c: char) -> bool {
    matches!(
        c,
        '\u{00AD}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

// ---------------------------------------------------------------------------------------------
// Phone
// ---------------------------------------------------------------------------------------------

const MIN_PHONE_DIGITS: usize = 8;
const MAX_E164_DIGITS: usize = 15;
/// Longest international prefix ("0011", Australia) plus a full E.164 number.
const MAX_PHONE_DIGITS: usize = 19;
/// Generous bound on formatted input (separators, extension); stops work on huge strings early.
const MAX_PHONE_INPUT_BYTES: usize = 256;

const WRONG_LENGTH: &str = "phone number has the wrong number of digits for its country";
const TOO_FEW_DIGITS: &str = "phone number has too few digits";
const REPEATED: &str = "phone number is a single repeated digit";
const LETTERS: &str = "phone number contains letters";
const BAD_CHAR: &str = "phone number contains an unexpected character";
const BAD_PLUS: &str = "phone number has a misplaced '+'";
const LEADING_ZERO: &str = "national phone number cannot start with 0";
const UNKNOWN_CC: &str = "phone number has an unknown country calling code";
const ZERO_CC: &str = "country calling codes never start with 0";
const BAD_NANP: &str = "not a valid North American phone number";
const BAD_BR_AREA: &str = "Brazilian area codes are two digits, each 1-9";
const BAD_BR_NINTH: &str = "11-digit Brazilian numbers must have 9 as the third digit";
const BAD_AR: &str = "11-digit Argentine numbers must start with 9";

/// One numbering plan. `lengths` are the accepted lengths of the national significant number
/// (after country code / trunk prefix), before region-specific canonicalisation.
#[derive(Debug, Clone, Copy)]
struct Region {
    iso: &'static str,
    cc: &'static str,
    trunks: &'static [&'static str],
    /// International prefixes besides "00", which is accepted everywhere.
    idd: &'static [&'static str],
    lengths: &'static [usize],
    /// Open (variable-length) plans fit almost any long digit string, so a bare string of
    /// >= 11 digits is more likely an international number missing its "+".
    bare_intl_first: bool,
}

const fn region(
    iso: &'static str,
    cc: &'static str,
    trunks: &'static [&'static str],
    lengths: &'static [usize],
) -> Region {
    Region {
        iso,
        cc,
        trunks,
        idd: &[],
        lengths,
        bare_intl_first: false,
    }
}

impl Region {
    const fn idd(self, idd: &'static [&'static str]) -> Self {
        Self { idd, ..self }
    }

    const fn open_plan(self) -> Self {
        Self {
            bare_intl_first: true,
            ..self
        }
    }
}

/// Regions sharing a calling code (US/CA) share a plan; the first entry is used for "+1".
const REGIONS: &[Region] = &[
    // Americas
    region("BR", "55", &["0"], &[10, 11]),
    region("US", "1", &["1"], &[10]).idd(&["011"]),
    region("CA", "1", &["1"], &[10]).idd(&["011"]),
    // Mexico dropped 01/044/045 in 2019, but old data still carries them.
    region("MX", "52", &["01", "044", "045"], &[10]),
    region("AR", "54", &["0"], &[10, 11]),
    region("CL", "56", &[], &[9]),
    region("CO", "57", &[], &[8, 10]),
    region("PE", "51", &["0"], &[8, 9]),
    region("UY", "598", &["0"], &[8]),
    region("PY", "595", &["0"], &[7, 8, 9]),
    // Europe
    region("PT", "351", &[], &[9]),
    region("ES", "34", &[], &[9]),
    region("FR", "33", &["0"], &[9]),
    region("DE", "49", &["0"], &[6, 7, 8, 9, 10, 11, 12, 13]).open_plan(),
    // Italian numbers keep their leading 0 internationally, so there is no trunk prefix.
    region("IT", "39", &[], &[6, 7, 8, 9, 10, 11]).open_plan(),
    region("GB", "44", &["0"], &[9, 10]),
    region("IE", "353", &["0"], &[7, 8, 9]),
    region("NL", "31", &["0"], &[9]),
    region("BE", "32", &["0"], &[8, 9]),
    region("CH", "41", &["0"], &[9]),
    region("AT", "43", &["0"], &[6, 7, 8, 9, 10, 11, 12, 13]).open_plan(),
    region("PL", "48", &[], &[9]),
    region("RS", "381", &["0"], &[7, 8, 9, 10]),
    region("HR", "385", &["0"], &[8, 9]),
    region("BA", "387", &["0"], &[8, 9]),
    region("SI", "386", &["0"], &[8]),
    region("RU", "7", &["8"], &[10]).idd(&["810"]),
    region("TR", "90", &["0"], &[10]),
    // Middle East & Africa
    region("IL", "972", &["0"], &[8, 9]),
    region("AE", "971", &["0"], &[8, 9]),
    region("SA", "966", &["0"], &[8, 9]),
    region("EG", "20", &["0"], &[8, 9, 10]),
    region("MA", "212", &["0"], &[9]),
    region("NG", "234", &["0"], &[8, 9, 10]),
    region("ZA", "27", &["0"], &[9]),
    // Asia-Pacific
    region("IN", "91", &["0"], &[10]),
    region("CN", "86", &["0"], &[10, 11]),
    region("JP", "81", &["0"], &[9, 10]).idd(&["010"]),
    region("KR", "82", &["0"], &[8, 9, 10]).idd(&["001", "002"]),
    region("AU", "61", &["0"], &[9]).idd(&["0011"]),
    region("NZ", "64", &["0"], &[8, 9, 10]),
];

fn find_region(code: &str) -> Option<&'static Region> {
    let code = code.trim();
    REGIONS.iter().find(|r| r.iso.eq_ignore_ascii_case(code))
}

/// True when `region` (ISO 3166-1 alpha-2, case-insensitive, surrounding whitespace ignored)
/// is in the table.
pub fn is_known_region(region: &str) -> bool {
    find_region(region).is_some()
}

/// Returns the phone number in E.164 ("+" followed by 8..=15 digits).
///
/// Accepts international ("+", "00" or the region's own international prefix), national
/// (with or without trunk prefix) and WhatsApp-style ids (country code + number, no "+").
/// A leading "tel:" and a trailing "ext"/"x" extension are accepted and dropped.
/// `default_region` is an ISO 3166-1 alpha-2 code (case-insensitive); it is checked first, so
/// an unknown region is reported even for junk input.
///
/// International numbers whose calling code is not in the table are accepted on length alone
/// (8..=15 digits), since rejecting them would lose real customers.
///
/// Brazil: the canonical form of a mobile is always the 9-digit one, so a legacy 8-digit mobile
/// (first digit 6-9) gains a 9: "+55 11 9123-4567" -> "+5511991234567". Landlines (first digit
/// 2-5) keep 8 digits.
pub fn normalize_phone(raw: &str, default_region: &str) -> Result<String, NormalizeError> {
    let region = find_region(default_region)
        .ok_or_else(|| NormalizeError::UnknownRegion(default_region.trim().to_owned()))?;
    let scanned = scan_phone(raw)?;
    let digits = scanned.digits.as_str();
    if digits.len() > MAX_PHONE_DIGITS || (scanned.plus && digits.len() > MAX_E164_DIGITS) {
        return Err(NormalizeError::TooLong);
    }
    if digits.len() < MIN_PHONE_DIGITS {
        return Err(NormalizeError::Invalid(TOO_FEW_DIGITS));
    }
    if all_same(digits) {
        return Err(NormalizeError::Invalid(REPEATED));
    }
    if scanned.plus {
        if scanned.carrier_placeholder {
            return Err(NormalizeError::Invalid(LETTERS));
        }
        return international(digits, false);
    }
    if scanned.carrier_placeholder {
        // "0xx11 ...": "xx" stands for any carrier code, so after the 0 come area code + number.
        return match digits.strip_prefix('0') {
            Some(nsn) if region.cc == "55" => first_valid([nsn], region),
            _ => Err(NormalizeError::Invalid(LETTERS)),
        };
    }
    // Region-specific prefixes first: "00" would wrongly match the start of Australia's "0011".
    let idd = region.idd.iter().copied().chain(["00"]);
    if let Some(rest) = idd.into_iter().find_map(|p| digits.strip_prefix(p)) {
        return international(rest, region.cc == "55");
    }
    national(region, digits)
}

#[derive(Default)]
struct Scanned {
    /// ASCII digits only.
    digits: String,
    plus: bool,
    /// Saw the Brazilian "0xx" carrier placeholder.
    carrier_placeholder: bool,
}

/// Extracts digits and the leading "+", skipping formatting and dropping "tel:" / extensions.
fn scan_phone(raw: &str) -> Result<Scanned, NormalizeError> {
    let mut s = raw.trim();
    if s.is_empty() {
        return Err(NormalizeError::Empty);
    }
    if s.len() > MAX_PHONE_INPUT_BYTES {
        return Err(NormalizeError::TooLong);
    }
    if let Some(rest) = strip_prefix_ignore_case(s, "tel:") {
        // tel: URIs put parameters (";ext=", ";phone-context=") after ';'.
        s = rest.split(';').next().unwrap_or_default().trim();
    }
    let mut out = Scanned::default();
    let mut chars = s.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        if let Some(d) = decimal_digit(c) {
            out.digits.push(d);
            continue;
        }
        match c {
            '+' | '\u{FF0B}' => {
                if out.plus || out.carrier_placeholder || !out.digits.is_empty() {
                    return Err(NormalizeError::Invalid(BAD_PLUS));
                }
                out.plus = true;
            }
            c if is_phone_separator(c) => {}
            'x' | 'X'
                if out.digits == "0"
                    && !out.carrier_placeholder
                    && matches!(chars.peek(), Some((_, 'x' | 'X'))) =>
            {
                chars.next();
                out.carrier_placeholder = true;
            }
            c if c.is_alphabetic() => {
                let rest = s.get(i..).unwrap_or_default();
                if !out.digits.is_empty() && is_extension(rest) {
                    break;
                }
                return Err(NormalizeError::Invalid(LETTERS));
            }
            _ => return Err(NormalizeError::Invalid(BAD_CHAR)),
        }
    }
    Ok(out)
}

fn strip_prefix_ignore_case<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    if head.eq_ignore_ascii_case(prefix) {
        s.get(prefix.len()..)
    } else {
        None
    }
}

/// ASCII, Arabic-Indic, Extended Arabic-Indic, Devanagari and full-width digits: all appear in
/// real form submissions from the regions we cover.
fn decimal_digit(c: char) -> Option<char> {
    const ZEROS: [u32; 5] = [0x30, 0x660, 0x6F0, 0x966, 0xFF10];
    let cp = u32::from(c);
    ZEROS
        .iter()
        .find_map(|&zero| cp.checked_sub(zero).filter(|&d| d < 10))
        .and_then(|d| char::from_digit(d, 10))
}

fn is_phone_separator(c: char) -> bool {
    c.is_whitespace()
        || is_invisible(c)
        || matches!(
            c,
            '-' | '.' | '(' | ')' | '[' | ']' | '/' | '\u{2010}'
                ..='\u{2015}' | '\u{2212}' | '\u{FF08}' | '\u{FF09}' | '\u{FF0D}'
        )
}

/// "ext 12", "ext. 12", "extn:12", "extension 12", "x12".
fn is_extension(rest: &str) -> bool {
    let lower = rest.to_ascii_lowercase();
    let Some(after) = ["extension", "extn", "ext", "x"]
        .iter()
        .find_map(|marker| lower.strip_prefix(marker))
    else {
        return false;
    };
    let number = after
        .trim_start_matches(|c: char| matches!(c, '.' | ':' | '=' | '#') || c.is_whitespace())
        .trim_end();
    !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
}

fn all_same(digits: &str) -> bool {
    let mut bytes = digits.bytes();
    match bytes.next() {
        Some(first) => bytes.all(|b| b == first),
        None => true,
    }
}

/// Calling codes in the table are prefix-free (ITU guarantees it), so at most one matches.
fn split_known_cc(digits: &str) -> Option<(&'static Region, &str)> {
    (1..=3).find_map(|len| {
        let cc = digits.get(..len)?;
        let region = REGIONS.iter().find(|r| r.cc == cc)?;
        Some((region, digits.get(len..)?))
    })
}

/// Brazil: two-digit carrier selection code (e.g. 21, 41), never starting with 0.
fn strip_carrier(digits: &str) -> Option<&str> {
    let (carrier, rest) = digits.split_at_checked(2)?;
    carrier
        .bytes()
        .all(|b| (b'1'..=b'9').contains(&b))
        .then_some(rest)
}

/// `digits` is what followed "+" or an international prefix.
fn international(digits: &str, brazil_idd: bool) -> Result<String, NormalizeError> {
    let direct = known_international(digits);
    if direct.is_ok() {
        return direct;
    }
    if brazil_idd {
        // Brazil dials abroad as 00 + carrier code + country code.
        if let Some(Ok(e164)) = strip_carrier(digits).map(known_international) {
            return Ok(e164);
        }
    }
    if split_known_cc(digits).is_some() {
        return direct;
    }
    unknown_international(digits)
}

fn known_international(digits: &str) -> Result<String, NormalizeError> {
    let (region, nsn) = split_known_cc(digits).ok_or(NormalizeError::Invalid(UNKNOWN_CC))?;
    // "+52 1 ..." was the Mexican mobile prefix until 2019; the same line is now dialled
    // without it (WhatsApp ids still carry it).
    let mx_mobile = if region.cc == "52" && nsn.len() == 11 {
        nsn.strip_prefix('1')
    } else {
        None
    };
    // "+44 (0)20 ..." keeps the trunk prefix in brackets; it is not dialled. Brazilians never
    // write it, and there the 8-digit rules would turn a typo into a plausible number.
    let without_trunk = region
        .trunks
        .iter()
        .filter(|_| region.cc != "55")
        .filter_map(|t| nsn.strip_prefix(*t));
    let candidates = std::iter::once(nsn).chain(mx_mobile).chain(without_trunk);
    first_valid(candidates, region)
}

fn unknown_international(digits: &str) -> Result<String, NormalizeError> {
    if digits.starts_with('0') {
        return Err(NormalizeError::Invalid(ZERO_CC));
    }
    if digits.len() > MAX_E164_DIGITS {
        return Err(NormalizeError::TooLong);
    }
    if digits.len() < MIN_PHONE_DIGITS {
        return Err(NormalizeError::Invalid(TOO_FEW_DIGITS));
    }
    if all_same(digits) {
        return Err(NormalizeError::Invalid(REPEATED));
    }
    Ok(format!("+{digits}"))
}

/// Digits written without "+" or an international prefix.
fn national(region: &Region, digits: &str) -> Result<String, NormalizeError> {
    let has_trunk = region.trunks.iter().any(|t| digits.starts_with(*t));
    // WhatsApp-style ids: country code + number without "+". Never with a trunk prefix,
    // since no calling code starts with one.
    let bare_intl = || {
        if digits.len() >= 11 && !has_trunk {
            known_international(digits)
        } else {
            Err(NormalizeError::Invalid(WRONG_LENGTH))
        }
    };
    if region.bare_intl_first {
        if let Ok(e164) = bare_intl() {
            return Ok(e164);
        }
    }
    // Brazil: "0 21 11 91234-5678" = 0 + carrier code + area code + number.
    let carrier = if region.cc == "55" {
        digits.strip_prefix('0').and_then(strip_carrier)
    } else {
        None
    };
    let without_trunk = region.trunks.iter().filter_map(|t| digits.strip_prefix(*t));
    let candidates = carrier
        .into_iter()
        .chain(without_trunk)
        .chain(std::iter::once(digits));
    first_valid(candidates, region).or_else(|err| bare_intl().map_err(|_| err))
}

/// First candidate national number that is valid; otherwise the most specific error.
fn first_valid<'a>(
    candidates: impl IntoIterator<Item = &'a str>,
    region: &Region,
) -> Result<String, NormalizeError> {
    let generic = NormalizeError::Invalid(WRONG_LENGTH);
    let mut err = generic.clone();
    for nsn in candidates {
        match finish(region, nsn) {
            Ok(e164) => return Ok(e164),
            Err(e) if err == generic => err = e,
            Err(_) => {}
        }
    }
    Err(err)
}

/// Validates a national significant number and builds the E.164 string.
fn finish(region: &Region, nsn: &str) -> Result<String, NormalizeError> {
    if !region.lengths.contains(&nsn.len()) {
        return Err(NormalizeError::Invalid(WRONG_LENGTH));
    }
    let nsn: Cow<'_, str> = match region.cc {
        "1" => nanp(nsn)?,
        "54" => argentina(nsn)?,
        "55" => brazil(nsn)?,
        _ => Cow::Borrowed(nsn),
    };
    if nsn.starts_with('0') && region.cc != "39" {
        return Err(NormalizeError::Invalid(LEADING_ZERO));
    }
    if all_same(&nsn) {
        return Err(NormalizeError::Invalid(REPEATED));
    }
    let total = region.cc.len() + nsn.len();
    if total > MAX_E164_DIGITS {
        return Err(NormalizeError::TooLong);
    }
    if total < MIN_PHONE_DIGITS {
        return Err(NormalizeError::Invalid(TOO_FEW_DIGITS));
    }
    Ok(format!("+{}{}", region.cc, nsn))
}

/// Area code and exchange both start with 2-9.
fn nanp(nsn: &str) -> Result<Cow<'_, str>, NormalizeError> {
    let b = nsn.as_bytes();
    let ok = |i: usize| b.get(i).is_some_and(|d| (b'2'..=b'9').contains(d));
    if b.len() == 10 && ok(0) && ok(3) {
        Ok(Cow::Borrowed(nsn))
    } else {
        Err(NormalizeError::Invalid(BAD_NANP))
    }
}

fn argentina(nsn: &str) -> Result<Cow<'_, str>, NormalizeError> {
    // Mobiles are "+54 9" + area code + number internationally.
    if nsn.len() == 11 && !nsn.starts_with('9') {
        return Err(NormalizeError::Invalid(BAD_AR));
    }
    Ok(Cow::Borrowed(nsn))
}

fn brazil(nsn: &str) -> Result<Cow<'_, str>, NormalizeError> {
    let Some((area, subscriber)) = nsn.split_at_checked(2) else {
        return Err(NormalizeError::Invalid(WRONG_LENGTH));
    };
    if !area.bytes().all(|b| (b'1'..=b'9').contains(&b)) {
        return Err(NormalizeError::Invalid(BAD_BR_AREA));
    }
    match subscriber.len() {
        // Legacy 8-digit mobile: Brazil prefixed all mobiles with 9; the 9-digit form is canonical.
        8 if subscriber.starts_with(|c: char| ('6'..='9').contains(&c)) => {
            Ok(Cow::Owned(format!("{area}9{subscriber}")))
        }
        8 => Ok(Cow::Borrowed(nsn)),
        9 if subscriber.starts_with('9') => Ok(Cow::Borrowed(nsn)),
        9 => Err(NormalizeError::Invalid(BAD_BR_NINTH)),
        _ => Err(NormalizeError::Invalid(WRONG_LENGTH)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use NormalizeError::{Empty, Invalid, TooLong, UnknownRegion};

    fn phone(raw: &str, region: &str) -> Result<String, NormalizeError> {
        normalize_phone(raw, region)
    }

    fn ok(raw: &str, region: &str) -> String {
        match phone(raw, region) {
            Ok(v) => v,
            Err(e) => panic!("{raw:?} ({region}) failed: {e}"),
        }
    }

    fn is_invalid<T>(r: &Result<T, NormalizeError>) -> bool {
        matches!(r, Err(Invalid(_)))
    }

    // ---- email ---------------------------------------------------------------------------

    #[test]
    fn email_lowercases_and_trims() {
        assert_eq!(
            normalize_email("  John.Doe@Example.COM \n").as_deref(),
            Ok("john.doe@example.com")
        );
        assert_eq!(normalize_email("\tA@B.Co").as_deref(), Ok("a@b.co"));
    }

    #[test]
    fn email_keeps_dots_and_tags_for_non_gmail() {
        assert_eq!(
            normalize_email("first.last+news@outlook.com").as_deref(),
            Ok("first.last+news@outlook.com")
        );
        assert_ne!(
            normalize_email("j.doe@yahoo.com"),
            normalize_email("jdoe@yahoo.com")
        );
        // Subdomains of gmail.com are not Gmail mailboxes.
        assert_eq!(
            normalize_email("a.b+c@mail.gmail.com").as_deref(),
            Ok("a.b+c@mail.gmail.com")
        );
    }

    #[test]
    fn email_gmail_dots_and_plus() {
        let want = Ok("johndoe@gmail.com".to_string());
        for raw in [
            "johndoe@gmail.com",
            "John.Doe@gmail.com",
            "j.o.h.n.d.o.e@Gmail.com",
            "johndoe+shopping@gmail.com",
            "John.Doe+a+b@GMAIL.COM",
            "john.doe@googlemail.com",
            " JohnDoe+x@GoogleMail.com ",
        ] {
            assert_eq!(normalize_email(raw), want, "{raw}");
        }
        assert!(is_invalid(&normalize_email("+tag@gmail.com")));
    }

    #[test]
    fn email_unicode_domain_kept() {
        assert_eq!(
            normalize_email("José@Exämple.DE").as_deref(),
            Ok("josé@exämple.de")
        );
        assert_eq!(
            normalize_email("user@xn--exmple-cua.de").as_deref(),
            Ok("user@xn--exmple-cua.de")
        );
    }

    #[test]
    fn email_invalid_shapes() {
        assert_eq!(normalize_email(""), Err(Empty));
        assert_eq!(normalize_email("   \t"), Err(Empty));
        for raw in [
            "plainaddress",
            "a@@b.com",
            "a@b@c.com",
            "@example.com",
            "user@",
            "user@localhost",
            "user@.com",
            "user@example..com",
            "user@example.com.",
            "user@-example.com",
            "user@example-.com",
            "user@exa_mple.com",
            "user@exa mple.com",
            "us er@example.com",
            "user@1.2.3.4",
            ".user@example.com",
            "user.@example.com",
            "us..er@example.com",
            "\"quoted\"@example.com",
            "John <john@example.com>",
            "user\u{200B}@example.com",
            "user@exa\u{202E}mple.com",
        ] {
            assert!(
                is_invalid(&normalize_email(raw)),
                "{raw:?} should be invalid"
            );
        }
    }

    #[test]
    fn email_length_limits() {
        let local = "a".repeat(64);
        assert!(normalize_email(&format!("{local}@example.com")).is_ok());
        let local = "a".repeat(65);
        assert_eq!(
            normalize_email(&format!("{local}@example.com")),
            Err(TooLong)
        );

        let long = format!("{}@{}.com", "a".repeat(20), "b".repeat(275));
        assert_eq!(long.chars().count(), 300);
        assert_eq!(normalize_email(&long), Err(TooLong));

        // 254 exactly is fine when every label is <= 63.
        let domain = format!(
            "{}.{}.{}.{}",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(63),
            "com"
        );
        let ok254 = format!("{}@{}", "a".repeat(254 - 1 - domain.len()), domain);
        assert_eq!(ok254.len(), 254);
        assert!(normalize_email(&ok254).is_ok());
        assert_eq!(normalize_email(&format!("a{ok254}")), Err(TooLong));

        let label = format!("user@{}.com", "x".repeat(64));
        assert!(is_invalid(&normalize_email(&label)));
    }

    // ---- phone: examples from the spec ---------------------------------------------------

    #[test]
    fn phone_spec_examples() {
        let cases = [
            ("+55 (11) 91234-5678", "BR", "+5511912345678"),
            ("0055 11 91234 5678", "BR", "+5511912345678"),
            ("(11) 91234-5678", "BR", "+5511912345678"),
            ("011 91234-5678", "BR", "+5511912345678"),
            ("0 21 11 91234-5678", "BR", "+5511912345678"),
            ("0xx11 91234-5678", "BR", "+5511912345678"),
            ("+1 (415) 555-2671", "US", "+14155552671"),
            ("415-555-2671", "US", "+14155552671"),
            ("07911 123456", "GB", "+447911123456"),
            ("+351 912 345 678", "PT", "+351912345678"),
            ("5511912345678", "BR", "+5511912345678"),
            ("551112345678", "BR", "+551112345678"),
            ("+55 11 9123-4567", "BR", "+5511991234567"),
            ("551191234567", "BR", "+5511991234567"),
            ("+55 11 99123-4567", "BR", "+5511991234567"),
            ("+55 11 3123-4567", "BR", "+551131234567"),
            ("064 123 4567", "RS", "+381641234567"),
        ];
        for (raw, region, want) in cases {
            assert_eq!(ok(raw, region), want, "{raw:?} ({region})");
        }
    }

    #[test]
    fn phone_international_input_ignores_region() {
        for region in ["BR", "US", "GB", "RS", "DE", "JP", "it"] {
            assert_eq!(ok("+55 (11) 91234-5678", region), "+5511912345678");
            assert_eq!(ok("+1 (415) 555-2671", region), "+14155552671");
            assert_eq!(ok("+351 912 345 678", region), "+351912345678");
            assert_eq!(ok("0055 11 91234 5678", region), "+5511912345678");
        }
    }

    #[test]
    fn phone_whatsapp_ids_from_any_region() {
        for region in ["BR", "US", "GB", "PT", "RS", "DE", "AT", "IT", "MX"] {
            assert_eq!(ok("5511912345678", region), "+5511912345678", "{region}");
            assert_eq!(ok("551191234567", region), "+5511991234567", "{region}");
            assert_eq!(ok("14155552671", region), "+14155552671", "{region}");
            assert_eq!(ok("447911123456", region), "+447911123456", "{region}");
            assert_eq!(ok("381641234567", region), "+381641234567", "{region}");
        }
    }

    // ---- phone: Brazil -------------------------------------------------------------------

    #[test]
    fn brazil_same_mobile_line_all_forms() {
        let want = "+5511912345678";
        for raw in [
            "+55 11 91234-5678",
            "+55 (11) 91234-5678",
            "+55 (11) 9 1234-5678",
            "+5511912345678",
            "(+55) 11 91234 5678",
            "0055 11 91234 5678",
            "0055-11-91234-5678",
            "00 41 55 11 91234-5678",
            "(11) 91234-5678",
            "11 91234-5678",
            "11912345678",
            "011 91234-5678",
            "(011) 91234-5678",
            "0 21 11 91234-5678",
            "0 41 (11) 91234-5678",
            "0xx11 91234-5678",
            "0XX11 91234-5678",
            "(0xx11) 91234-5678",
            "0 xx 11 91234 5678",
            "5511912345678",
            "55 11 91234-5678",
            "tel:+55-11-91234-5678",
            "TEL: +55 11 91234 5678",
            "+55 11 91234-5678 ext. 12",
            "+55.11.91234.5678",
            "\u{202A}+55 11 91234\u{2011}5678\u{202C}",
            "＋５５ １１ ９１２３４ ５６７８",
        ] {
            assert_eq!(ok(raw, "BR"), want, "{raw:?}");
        }
    }

    #[test]
    fn brazil_legacy_mobile_gains_ninth_digit() {
        let want = "+5511991234567";
        for raw in [
            "+55 11 9123-4567",
            "+55 11 99123-4567",
            "551191234567",
            "5511991234567",
            "(11) 9123-4567",
            "(11) 99123-4567",
            "011 9123-4567",
            "0 21 11 9123-4567",
            "0xx11 9123-4567",
            "1191234567",
            "0055 11 9123 4567",
        ] {
            assert_eq!(ok(raw, "BR"), want, "{raw:?}");
        }
        // Every legacy mobile first digit (6-9) gets the 9.
        assert_eq!(ok("+55 21 6123-4567", "BR"), "+5521961234567");
        assert_eq!(ok("+55 21 7123-4567", "BR"), "+5521971234567");
        assert_eq!(ok("+55 21 8123-4567", "BR"), "+5521981234567");
    }

    #[test]
    fn brazil_landline_stays_eight_digits() {
        for raw in [
            "+55 11 3123-4567",
            "(11) 3123-4567",
            "011 3123-4567",
            "551131234567",
            "0xx11 3123-4567",
            "0 21 11 3123-4567",
        ] {
            assert_eq!(ok(raw, "BR"), "+551131234567", "{raw:?}");
        }
        assert_eq!(ok("+55 21 2123-4567", "BR"), "+552121234567");
        assert_eq!(ok("+55 31 4123-4567", "BR"), "+553141234567");
        assert_eq!(ok("+55 41 5123-4567", "BR"), "+554151234567");
        assert_ne!(ok("(11) 3123-4567", "BR"), ok("(11) 93123-4567", "BR"));
    }

    #[test]
    fn brazil_invalid_numbers() {
        // 11 digits must have 9 as third digit.
        assert!(is_invalid(&phone("+55 11 81234-5678", "BR")));
        assert!(is_invalid(&phone("(11) 31234-5678", "BR")));
        // Area code digits are 1-9.
        assert!(is_invalid(&phone("+55 10 91234-5678", "BR")));
        assert!(is_invalid(&phone("+55 01 91234-5678", "BR")));
        // No area code.
        assert!(is_invalid(&phone("91234-5678", "BR")));
        // "0xx" only means something in Brazil.
        assert!(is_invalid(&phone("0xx11 91234-5678", "US")));
        assert!(is_invalid(&phone("+0xx11 91234-5678", "BR")));
    }

    // ---- phone: other regions ------------------------------------------------------------

    #[test]
    fn serbia() {
        for raw in [
            "064 123 4567",
            "064/123-4567",
            "+381 64 123 4567",
            "+381 (0)64 123 4567",
            "00381 64 123 4567",
            "381641234567",
        ] {
            assert_eq!(ok(raw, "RS"), "+381641234567", "{raw:?}");
        }
        assert_eq!(ok("011 123 4567", "RS"), "+381111234567");
        assert_eq!(ok("+381 11 123 4567", "BR"), "+381111234567");
        assert_eq!(ok("064 123 4567", "rs"), "+381641234567");
    }

    #[test]
    fn north_america() {
        for raw in [
            "415-555-2671",
            "(415) 555-2671",
            "415.555.2671",
            "1-415-555-2671",
            "1 (415) 555 2671",
            "+1 415 555 2671",
            "+1 1 415 555 2671",
            "011 1 415 555 2671",
            "tel:+1-415-555-2671",
            "tel:+1-415-555-2671;ext=99",
            "415-555-2671 ext 99",
            "415-555-2671 ext. 99",
            "415-555-2671 x99",
            "415-555-2671 X 99",
            "415-555-2671 extension: 99",
        ] {
            assert_eq!(ok(raw, "US"), "+14155552671", "{raw:?}");
        }
        assert_eq!(ok("(416) 555-0199", "CA"), "+14165550199");
        assert_eq!(ok("011 44 20 7946 0958", "US"), "+442079460958");
        assert!(is_invalid(&phone("(115) 555-2671", "US")));
        assert!(is_invalid(&phone("(415) 155-2671", "US")));
        assert!(is_invalid(&phone("+1 415 555 26711", "US")));
    }

    #[test]
    fn other_regions() {
        let cases = [
            ("07911 123456", "GB", "+447911123456"),
            ("+44 (0)20 7946 0958", "GB", "+442079460958"),
            ("020 7946 0958", "GB", "+442079460958"),
            ("912 345 678", "PT", "+351912345678"),
            ("612 34 56 78", "ES", "+34612345678"),
            ("06 12 34 56 78", "FR", "+33612345678"),
            ("030 12345678", "DE", "+493012345678"),
            ("0151 12345678", "DE", "+4915112345678"),
            ("06 1234 5678", "IT", "+390612345678"),
            ("+39 06 1234 5678", "BR", "+390612345678"),
            ("312 345 6789", "IT", "+393123456789"),
            ("0664 1234567", "AT", "+436641234567"),
            ("06 12345678", "NL", "+31612345678"),
            ("0470 12 34 56", "BE", "+32470123456"),
            ("079 123 45 67", "CH", "+41791234567"),
            ("085 123 4567", "IE", "+353851234567"),
            ("512 345 678", "PL", "+48512345678"),
            ("091 234 5678", "HR", "+385912345678"),
            ("061 123 456", "BA", "+38761123456"),
            ("041 123 456", "SI", "+38641123456"),
            ("050-123-4567", "IL", "+972501234567"),
            ("050 123 4567", "AE", "+971501234567"),
            ("050 123 4567", "SA", "+966501234567"),
            ("010 1234 5678", "EG", "+201012345678"),
            ("0612-345678", "MA", "+212612345678"),
            ("0803 123 4567", "NG", "+2348031234567"),
            ("082 123 4567", "ZA", "+27821234567"),
            ("098765 43210", "IN", "+919876543210"),
            ("98765 43210", "IN", "+919876543210"),
            ("138 1234 5678", "CN", "+8613812345678"),
            ("010 1234 5678", "CN", "+861012345678"),
            ("090-1234-5678", "JP", "+819012345678"),
            ("010 81 90 1234 5678", "JP", "+819012345678"),
            ("5215512345678", "MX", "+525512345678"),
            ("5215512345678", "BR", "+525512345678"),
            ("010-1234-5678", "KR", "+821012345678"),
            ("0412 345 678", "AU", "+61412345678"),
            ("0011 61 412 345 678", "AU", "+61412345678"),
            ("021 123 4567", "NZ", "+64211234567"),
            ("8 (916) 123-45-67", "RU", "+79161234567"),
            ("+7 916 123 45 67", "RU", "+79161234567"),
            ("79161234567", "RU", "+79161234567"),
            ("0532 123 45 67", "TR", "+905321234567"),
            ("55 1234 5678", "MX", "+525512345678"),
            ("+52 1 55 1234 5678", "MX", "+525512345678"),
            ("044 55 1234 5678", "MX", "+525512345678"),
            ("+54 9 11 1234-5678", "AR", "+5491112345678"),
            ("011 4123-4567", "AR", "+541141234567"),
            ("9 8765 4321", "CL", "+56987654321"),
            ("300 123 4567", "CO", "+573001234567"),
            ("987 654 321", "PE", "+51987654321"),
            ("094 123 456", "UY", "+59894123456"),
            ("0981 123456", "PY", "+595981123456"),
            ("+380 50 123 4567", "BR", "+380501234567"),
            ("٠٥٠ ١٢٣ ٤٥٦٧", "AE", "+971501234567"),
        ];
        for (raw, region, want) in cases {
            assert_eq!(ok(raw, region), want, "{raw:?} ({region})");
        }
    }

    #[test]
    fn open_plans_prefer_international_for_long_bare_strings() {
        // A foreign WhatsApp id must not become a German number.
        assert_eq!(ok("5511912345678", "DE"), "+5511912345678");
        assert_eq!(ok("14155552671", "IT"), "+14155552671");
    }

    // ---- phone: junk and errors ----------------------------------------------------------

    #[test]
    fn phone_junk_rejected() {
        for raw in [
            "00000000000",
            "11111111111",
            "+55 00000000000",
            "+55 11 1111-1111",
            "(99) 99999-9999",
            "+1 999 999 9999",
            "1234567",
            "+55 1234",
            "+",
            "---",
            "abc",
            "call me",
            "555-CALL-NOW",
            "415-555-2671 ext",
            "415-555-2671 ext abc",
            "415-555-2671 (home)",
            "415*555*2671",
            "415_555_2671",
            "+55 11 +91234-5678",
            "++55 11 91234-5678",
            "11 91234-5678 +",
            "mailto:11912345678",
            "+0 11 91234 5678",
            "12.345.678,90",
        ] {
            assert!(
                is_invalid(&phone(raw, "BR")),
                "{raw:?} should be invalid: {:?}",
                phone(raw, "BR")
            );
        }
    }

    #[test]
    fn phone_errors() {
        assert_eq!(phone("", "BR"), Err(Empty));
        assert_eq!(phone("  \t ", "BR"), Err(Empty));
        assert_eq!(phone("123456789012345678901", "BR"), Err(TooLong));
        assert_eq!(phone("+1234567890123456", "BR"), Err(TooLong));
        assert_eq!(phone(&"1".repeat(300), "BR"), Err(TooLong));
        assert_eq!(
            phone("+55 11 91234-5678", "XX"),
            Err(UnknownRegion("XX".to_string()))
        );
        assert_eq!(
            phone("+55 11 91234-5678", ""),
            Err(UnknownRegion(String::new()))
        );
        assert_eq!(
            phone("+55 11 91234-5678", "UK"),
            Err(UnknownRegion("UK".into()))
        );
        assert_eq!(phone("", "BRA"), Err(UnknownRegion("BRA".into())));
    }

    #[test]
    fn phone_unknown_calling_codes_accepted_on_length() {
        assert_eq!(ok("+380 50 123 4567", "US"), "+380501234567");
        assert_eq!(ok("00 62 812 3456 7890", "GB"), "+6281234567890");
        assert!(is_invalid(&phone("+999 1234", "US")));
        // Bare digits are only read as international with a known calling code.
        assert!(is_invalid(&phone("380501234567", "US")));
    }

    #[test]
    fn regions_table() {
        for code in [
            "BR", "US", "CA", "MX", "AR", "CL", "CO", "PE", "UY", "PY", "PT", "ES", "FR", "DE",
            "IT", "GB", "IE", "NL", "BE", "CH", "AT", "PL", "RS", "HR", "BA", "SI", "IL", "AE",
            "SA", "EG", "MA", "NG", "ZA", "IN", "CN", "JP", "KR", "AU", "NZ", "RU", "TR",
        ] {
            assert!(is_known_region(code), "{code}");
            assert!(is_known_region(&code.to_lowercase()), "{code}");
        }
        assert!(is_known_region(" br "));
        for code in ["", "XX", "UK", "BRA", "B", "br1", "🇧🇷"] {
            assert!(!is_known_region(code), "{code}");
        }
        for (i, r) in REGIONS.iter().enumerate() {
            assert!(r.cc.bytes().all(|b| b.is_ascii_digit()) && !r.cc.starts_with('0'));
            assert!(!r.lengths.is_empty());
            assert!(r
                .lengths
                .iter()
                .all(|&n| r.cc.len() + n <= MAX_E164_DIGITS + 1));
            for other in REGIONS.iter().skip(i + 1) {
                assert_ne!(r.iso, other.iso);
                if r.cc != other.cc {
                    // split_known_cc relies on calling codes being prefix-free.
                    assert!(!r.cc.starts_with(other.cc) && !other.cc.starts_with(r.cc));
                }
            }
        }
    }

    #[test]
    fn error_display_and_trait() {
        assert_eq!(Empty.to_string(), "value is empty");
        assert_eq!(TooLong.to_string(), "value is too long");
        assert_eq!(
            Invalid("not a valid email address").to_string(),
            "not a valid email address"
        );
        assert_eq!(
            UnknownRegion("XX".into()).to_string(),
            "unknown region code \"XX\""
        );
        let err: Box<dyn std::error::Error> = Box::new(Empty);
        assert_eq!(err.to_string(), "value is empty");
        let Err(e) = normalize_email("nope") else {
            panic!("should fail")
        };
        assert!(e.to_string().starts_with("not a valid email address"));
    }

    // ---- robustness ----------------------------------------------------------------------

    /// Deterministic generator so failures are reproducible.
    struct Lcg(u64);

    impl Lcg {
        fn next(&mut self) -> usize {
            self.0 = self
                .0
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(self.0 >> 33).unwrap_or(0)
        }
    }

    fn odd_inputs() -> Vec<String> {
        const PIECES: &[&str] = &[
            "+",
            "++",
            "0",
            "00",
            "0011",
            "55",
            "1",
            "9",
            "7",
            "381",
            "x",
            "X",
            "xx",
            "ext",
            "ext.",
            "tel:",
            "TEL:",
            ";",
            " ",
            "\t",
            "\n",
            "-",
            "(",
            ")",
            ".",
            "/",
            "@",
            "@@",
            "gmail.com",
            ".com",
            "a",
            "Z",
            "é",
            "İ",
            "ß",
            "日本",
            "٠١٢",
            "١٢٣٤",
            "１２３",
            "०१२",
            "\u{202E}",
            "\u{200B}",
            "\u{FEFF}",
            "\u{0}",
            "\u{7F}",
            "🙂",
            "🇧🇷",
            "#",
            "*",
            ",",
            "\\",
            "\"",
            "'",
            "<",
            ">",
            "%",
            "\u{10FFFF}",
            "\u{FFFD}",
            "12345678",
            "91234-5678",
            "+55",
            "0xx",
        ];
        let mut rng = Lcg(0x5eed);
        let mut out: Vec<String> = (0..400)
            .map(|_| {
                let n = rng.next() % 12;
                (0..n)
                    .map(|_| PIECES.get(rng.next() % PIECES.len()).copied().unwrap_or(""))
                    .collect()
            })
            .collect();
        out.extend(
            [
                "",
                " ",
                "+",
                "tel:",
                "tel:;",
                "x",
                "0xx",
                "0xxx11912345678",
                "@",
                "a@",
                "@b",
                "a@b",
                "a@.com",
                "a@b.",
                ".@.",
                "-@-.-",
                "\u{0}",
                "\u{FEFF}",
                "٠",
                "+55 11 91234-5678 x",
                "+55 11 91234-5678 x 1 2",
                "İ@İ.com",
                "日本語@例え.jp",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        // Phone-shaped strings, so the invariants below see many accepted numbers.
        const PREFIXES: &[&str] = &[
            "+", "00", "0", "", "0xx", "tel:+", "(", "0 21 ", "+55 ", "011 ",
        ];
        const SEPARATORS: &[&str] = &["", "", " ", "-", ".", ") "];
        for _ in 0..300 {
            let mut s = PREFIXES
                .get(rng.next() % PREFIXES.len())
                .copied()
                .unwrap_or("")
                .to_string();
            for _ in 0..(8 + rng.next() % 8) {
                s.push(
                    char::from_digit(u32::try_from(rng.next() % 10).unwrap_or(0), 10)
                        .unwrap_or('0'),
                );
                s.push_str(
                    SEPARATORS
                        .get(rng.next() % SEPARATORS.len())
                        .copied()
                        .unwrap_or(""),
                );
            }
            out.push(s);
        }
        out.push("9".repeat(10_000));
        out.push("1234567890".repeat(1_000));
        out.push(format!("+{}", "5".repeat(20)));
        out.push(format!("+55{}", "1".repeat(15)));
        out.push("🙂".repeat(500));
        out.push("@".repeat(300));
        out.push(format!("{}@{}.com", "a".repeat(64), "b".repeat(63)));
        out.push(format!("{}@gmail.com", ".".repeat(100)));
        out.push(format!("tel:{}", "+".repeat(1_000)));
        out.push("x".repeat(5_000));
        out
    }

    #[test]
    fn never_panics_and_outputs_are_canonical() {
        let regions = [
            "BR", "us", "GB", "RS", "DE", "IT", "RU", "MX", "AR", "AU", "", "ZZ",
        ];
        let inputs = odd_inputs();
        assert!(inputs.len() >= 400);
        let (mut emails, mut phones) = (0, 0);
        for raw in &inputs {
            if let Ok(email) = normalize_email(raw) {
                emails += 1;
                assert_eq!(email.matches('@').count(), 1, "{raw:?}");
                assert!(email.chars().count() <= MAX_EMAIL_CHARS, "{raw:?}");
                assert_eq!(
                    normalize_email(&email).as_deref(),
                    Ok(email.as_str()),
                    "{raw:?}"
                );
            }
            for region in regions {
                let Ok(e164) = normalize_phone(raw, region) else {
                    continue;
                };
                phones += 1;
                let digits = e164.strip_prefix('+').unwrap_or_default();
                assert!(
                    (MIN_PHONE_DIGITS..=MAX_E164_DIGITS).contains(&digits.len())
                        && digits.bytes().all(|b| b.is_ascii_digit()),
                    "{raw:?} ({region}) -> {e164:?}"
                );
                // Canonical output re-normalises to itself, whatever the region.
                for again in ["BR", "US", "JP"] {
                    assert_eq!(
                        normalize_phone(&e164, again).as_deref(),
                        Ok(e164.as_str()),
                        "{raw:?} ({region}) -> {e164:?}"
                    );
                }
            }
        }
        eprintln!("odd inputs: {emails} emails and {phones} phones accepted");
        // The invariant checks above must not be vacuous.
        assert!(emails > 0 && phones > 0);
    }
}
