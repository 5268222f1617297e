//! Finding a slot's value in what the customer wrote: an order number among other numbers
//! (phones, CPFs, CEPs, prices, dates), an e-mail address, a CPF with valid check digits, a CEP.

use crate::definition::SlotKind;
use crate::facts::normalize_order_id;

/// The value of a slot of `kind` in `text`. For order numbers, `known` (the customer's orders)
/// wins over any other candidate.
pub fn extract(kind: SlotKind, text: &str, known: &[&str]) -> Option<String> {
    match kind {
        SlotKind::OrderId => order_id(text, known),
        SlotKind::Email => email(text),
        SlotKind::Cpf => cpf(text),
        SlotKind::Cep => cep(text),
        SlotKind::Text => {
            let t = text.trim();
            (!t.is_empty()).then(|| t.chars().take(500).collect())
        }
    }
}

/// Tokens split on whitespace, with surrounding punctuation removed (but `#` and inner `-` kept).
fn tokens(text: &str) -> Vec<&str> {
    text.split(|c: char| c.is_whitespace() || c == ',' || c == ';')
        .map(|t| t.trim_matches(|c: char| !c.is_alphanumeric() && c != '#'))
        .map(|t| t.trim_end_matches('#'))
        .filter(|t| !t.is_empty())
        .collect()
}

fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

fn order_id(text: &str, known: &[&str]) -> Option<String> {
    let toks = tokens(text);
    // A known order named in any format.
    let known_norm: Vec<(String, &str)> =
        known.iter().map(|k| (normalize_order_id(k), *k)).collect();
    // Alone or split in two ("aur 88812").
    let pairs = toks.windows(2).map(|w| format!("{}{}", w[0], w[1]));
    for t in toks.iter().map(|t| t.to_string()).chain(pairs) {
        let n = normalize_order_id(&t);
        if let Some((_, k)) = known_norm.iter().find(|(kn, _)| *kn == n) {
            return Some(k.to_string());
        }
    }
    let lower = crate::text::fold(text);
    let mut best: Option<(i32, String)> = None;
    for (i, t) in toks.iter().enumerate() {
        let d = digits(t);
        let letters = t.chars().filter(|c| c.is_alphabetic()).count();
        if d.len() < 4 || d.len() > 16 || letters > 6 {
            continue;
        }
        // Not a CPF, CEP, phone, date, time or price.
        if cpf(t).is_some()
            || is_formatted_cep(t)
            || is_local_phone(t)
            || t.contains(':')
            || t.contains('/')
        {
            continue;
        }
        if letters == 0 && (d.len() >= 12 || (d.len() == 11 && d.starts_with(|c| c != '0'))) {
            // Phone numbers (with DDD) are 10-13 digits; orders this long are rare.
            if looks_like_phone(t) {
                continue;
            }
        }
        let prev = i
            .checked_sub(1)
            .and_then(|j| toks.get(j))
            .map(|p| crate::text::fold(p));
        // A price: "R$ 1200" ("R$" loses its "$" to the tokenizer) or "R$1200".
        if t.contains('$')
            || prev
                .as_deref()
                .is_some_and(|p| ["r", "r$", "rs", "us", "us$", "usd", "brl", "eur"].contains(&p))
        {
            continue;
        }
        // After an area code ("11 912345678", "(11) 3456-7890") it's a phone number.
        let after_area_code = prev
            .as_deref()
            .is_some_and(|p| p.len() == 2 && p.chars().all(|c| c.is_ascii_digit()));
        if letters == 0 && after_area_code && (8..=9).contains(&d.len()) {
            continue;
        }
        let mut score = 0;
        if t.starts_with('#') {
            score += 3;
        }
        if prev.as_deref().is_some_and(|p| {
            [
                "pedido", "order", "ped", "n", "no", "nº", "numero", "number", "compra", "orden",
            ]
            .contains(&p)
        }) {
            score += 2;
        }
        if lower.contains("pedido") || lower.contains("order") || lower.contains("orden") {
            score += 1;
        }
        if best.as_ref().is_none_or(|(s, _)| score > *s) {
            best = Some((score, t.trim_start_matches('#').to_string()));
        }
    }
    best.map(|(_, t)| t)
}

/// `91234-5678` or `3456-7890`: a Brazilian local number.
fn is_local_phone(t: &str) -> bool {
    match t.split_once('-') {
        Some((a, b)) => {
            (4..=5).contains(&a.len())
                && b.len() == 4
                && a.chars().chain(b.chars()).all(|c| c.is_ascii_digit())
        }
        None => false,
    }
}

fn looks_like_phone(t: &str) -> bool {
    let d = digits(t);
    (10..=13).contains(&d.len())
        && (t.starts_with('+') || t.contains('(') || d.len() >= 12 || d[2..].starts_with('9'))
}

fn email(text: &str) -> Option<String> {
    text.split(|c: char| c.is_whitespace() || matches!(c, ',' | ';' | '<' | '>' | '(' | ')'))
        .map(|t| t.trim_matches(|c: char| matches!(c, '.' | ':' | '"' | '\'')))
        .find(|t| {
            let Some((local, domain)) = t.split_once('@') else {
                return false;
            };
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !domain.contains('@')
                && t.len() <= 254
        })
        .map(str::to_lowercase)
}

/// A CPF with valid check digits, as 11 digits.
pub fn cpf(text: &str) -> Option<String> {
    for t in tokens(text) {
        let d = digits(t);
        let only_cpf_chars = t
            .chars()
            .all(|c| c.is_ascii_digit() || c == '.' || c == '-');
        if d.len() != 11 || !only_cpf_chars {
            continue;
        }
        let n: Vec<u32> = d.chars().filter_map(|c| c.to_digit(10)).collect();
        if n.iter().all(|x| *x == n[0]) {
            continue;
        }
        let check = |len: usize| {
            let sum: u32 = (0..len).map(|i| n[i] * (len as u32 + 1 - i as u32)).sum();
            let r = (sum * 10) % 11;
            if r == 10 {
                0
            } else {
                r
            }
        };
        if check(9) == n[9] && check(10) == n[10] {
            return Some(d);
        }
    }
    None
}

fn is_formatted_cep(t: &str) -> bool {
    let b = t.as_bytes();
    b.len() == 9 && b[5] == b'-' && digits(t).len() == 8
}

fn cep(text: &str) -> Option<String> {
    let toks = tokens(text);
    toks.iter()
        .find(|t| is_formatted_cep(t))
        .or_else(|| {
            toks.iter()
                .find(|t| t.len() == 8 && t.chars().all(|c| c.is_ascii_digit()))
        })
        .map(|t| digits(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_order_numbers_among_other_numbers() {
        let o = |t: &str| extract(SlotKind::OrderId, t, &[]);
        assert_eq!(o("meu pedido 483920 não chegou").as_deref(), Some("483920"));
        assert_eq!(o("é o #4521").as_deref(), Some("4521"));
        assert_eq!(o("order AUR-88812 pls").as_deref(), Some("AUR-88812"));
        assert_eq!(
            o("paguei R$ 1200 no pedido 99123").as_deref(),
            Some("99123")
        );
        assert_eq!(o("paguei R$ 1200 ontem"), None);
        assert_eq!(o("paguei R$1200 ontem"), None);
        assert_eq!(o("meu cpf é 529.982.247-25").as_deref(), None);
        assert_eq!(o("cep 01310-100").as_deref(), None);
        assert_eq!(o("me liga no (11) 91234-5678").as_deref(), None);
        assert_eq!(o("+55 11 912345678").as_deref(), None);
        assert_eq!(o("chegou dia 12/11/2026 às 14:30").as_deref(), None);
        assert_eq!(o("onde está meu pedido?"), None);
        assert_eq!(o("123"), None);
        // A known order wins, whatever its format.
        assert_eq!(
            extract(
                SlotKind::OrderId,
                "é o aur 88812 ou o 55555",
                &["AUR-88812"]
            )
            .as_deref(),
            Some("AUR-88812")
        );
        assert_eq!(
            extract(SlotKind::OrderId, "pedido #AUR88812", &["AUR-88812"]).as_deref(),
            Some("AUR-88812")
        );
    }

    #[test]
    fn emails_cpfs_and_ceps() {
        assert_eq!(
            extract(SlotKind::Email, "meu email: Ana.Souza@Example.com.br.", &[]).as_deref(),
            Some("ana.souza@example.com.br")
        );
        assert_eq!(extract(SlotKind::Email, "ana@ arroba", &[]), None);
        assert_eq!(
            extract(SlotKind::Cpf, "cpf 529.982.247-25", &[]).as_deref(),
            Some("52998224725")
        );
        assert_eq!(extract(SlotKind::Cpf, "cpf 529.982.247-26", &[]), None);
        assert_eq!(extract(SlotKind::Cpf, "111.111.111-11", &[]), None);
        assert_eq!(
            extract(SlotKind::Cep, "cep 01310-100 apto 5", &[]).as_deref(),
            Some("01310100")
        );
        assert_eq!(extract(SlotKind::Text, "  ", &[]), None);
    }

    #[test]
    fn odd_text_does_not_panic() {
        for t in [
            "",
            "#",
            "##",
            "-",
            "@",
            "a@b",
            "٤٥٢١٥",
            "пореџбина 12345",
            "\u{0301}1234",
        ] {
            for k in [
                SlotKind::OrderId,
                SlotKind::Email,
                SlotKind::Cpf,
                SlotKind::Cep,
                SlotKind::Text,
            ] {
                let _ = extract(k, t, &["x"]);
            }
        }
    }
}
