//! The consent vocabulary of the ledger: what was agreed to, on which channel, on what legal basis.

use crate::Millis;
use serde::{Deserialize, Serialize};

/// A processing purpose: `personalization`, `marketing`, `analytics`, `third_party_sharing`, or a
/// brand-defined one. Lower-case letters, digits and `_`, at most 64 bytes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Purpose(String);

impl Purpose {
    /// Normalises a purpose or CMP category name (`"Advertising"`, `"third-party sharing"`) to the
    /// snake_case form; rejects empty or odd values.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let mut out = String::with_capacity(raw.len());
        for c in raw.trim().chars() {
            match c {
                'a'..='z' | '0'..='9' | '_' => out.push(c),
                'A'..='Z' => out.push(c.to_ascii_lowercase()),
                ' ' | '-' | '.' | ':' => out.push('_'),
                _ => {
                    return Err(format!(
                        "purpose {raw:?} has a character other than letters, digits, space, - or _"
                    ))
                }
            }
        }
        if out.is_empty() || out.len() > 64 {
            return Err("purpose must have 1 to 64 characters".into());
        }
        Ok(Purpose(out))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Purpose {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        Purpose::parse(&s)
    }
}

impl From<Purpose> for String {
    fn from(p: Purpose) -> String {
        p.0
    }
}

/// Where a consent applies: `all` or one channel (`whatsapp`, `email`, `sms`, `webchat`, `store` …).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ChannelScope(String);

impl ChannelScope {
    pub fn all() -> Self {
        ChannelScope("all".into())
    }
    pub fn parse(raw: &str) -> Result<Self, String> {
        let p = Purpose::parse(raw).map_err(|e| e.replace("purpose", "channel"))?;
        Ok(ChannelScope(p.0))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ChannelScope {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        ChannelScope::parse(&s)
    }
}

impl From<ChannelScope> for String {
    fn from(c: ChannelScope) -> String {
        c.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConsentStatus {
    Granted,
    Denied,
    Withdrawn,
    /// Derived, never recorded: a grant whose `expires_at` has passed.
    Expired,
}

impl ConsentStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Granted => "granted",
            Self::Denied => "denied",
            Self::Withdrawn => "withdrawn",
            Self::Expired => "expired",
        }
    }
    pub fn parse(s: &str) -> Option<Self> {
        [Self::Granted, Self::Denied, Self::Withdrawn, Self::Expired]
            .into_iter()
            .find(|x| x.as_str() == s)
    }
    /// Whether processing may go ahead on this state.
    pub fn allows(self) -> bool {
        self == Self::Granted
    }
}

/// Legal bases of LGPD art. 7 (I–X) and GDPR art. 6(1)(a–f).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LegalBasis {
    /// LGPD 7.I / GDPR 6(1)(a).
    Consent,
    /// LGPD 7.II / GDPR 6(1)(c).
    LegalObligation,
    /// LGPD 7.III / GDPR 6(1)(e).
    PublicPolicy,
    /// LGPD 7.IV.
    Research,
    /// LGPD 7.V / GDPR 6(1)(b).
    Contract,
    /// LGPD 7.VI.
    ExerciseOfRights,
    /// LGPD 7.VII / GDPR 6(1)(d).
    ProtectionOfLife,
    /// LGPD 7.VIII.
    HealthProtection,
    /// LGPD 7.IX / GDPR 6(1)(f).
    LegitimateInterest,
    /// LGPD 7.X.
    CreditProtection,
}

impl LegalBasis {
    pub const ALL: [LegalBasis; 10] = [
        Self::Consent,
        Self::LegalObligation,
        Self::PublicPolicy,
        Self::Research,
        Self::Contract,
        Self::ExerciseOfRights,
        Self::ProtectionOfLife,
        Self::HealthProtection,
        Self::LegitimateInterest,
        Self::CreditProtection,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Consent => "consent",
            Self::LegalObligation => "legal_obligation",
            Self::PublicPolicy => "public_policy",
            Self::Research => "research",
            Self::Contract => "contract",
            Self::ExerciseOfRights => "exercise_of_rights",
            Self::ProtectionOfLife => "protection_of_life",
            Self::HealthProtection => "health_protection",
            Self::LegitimateInterest => "legitimate_interest",
            Self::CreditProtection => "credit_protection",
        }
    }

    /// Accepts our names and the article references: `lgpd_7_i` … `lgpd_7_x`, `gdpr_6_1_a` … `gdpr_6_1_f`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s
            .trim()
            .to_ascii_lowercase()
            .replace(['.', '(', ')', '-', ' '], "_");
        let s = s.trim_matches('_');
        if let Some(b) = Self::ALL.into_iter().find(|b| b.as_str() == s) {
            return Some(b);
        }
        let art = s.replace("__", "_");
        Some(match art.as_str() {
            "lgpd_7_i" | "lgpd_art_7_i" => Self::Consent,
            "lgpd_7_ii" | "lgpd_art_7_ii" => Self::LegalObligation,
            "lgpd_7_iii" | "lgpd_art_7_iii" => Self::PublicPolicy,
            "lgpd_7_iv" | "lgpd_art_7_iv" => Self::Research,
            "lgpd_7_v" | "lgpd_art_7_v" => Self::Contract,
            "lgpd_7_vi" | "lgpd_art_7_vi" => Self::ExerciseOfRights,
            "lgpd_7_vii" | "lgpd_art_7_vii" => Self::ProtectionOfLife,
            "lgpd_7_viii" | "lgpd_art_7_viii" => Self::HealthProtection,
            "lgpd_7_ix" | "lgpd_art_7_ix" => Self::LegitimateInterest,
            "lgpd_7_x" | "lgpd_art_7_x" => Self::CreditProtection,
            "gdpr_6_1_a" | "gdpr_art_6_1_a" => Self::Consent,
            "gdpr_6_1_b" | "gdpr_art_6_1_b" => Self::Contract,
            "gdpr_6_1_c" | "gdpr_art_6_1_c" => Self::LegalObligation,
            "gdpr_6_1_d" | "gdpr_art_6_1_d" => Self::ProtectionOfLife,
            "gdpr_6_1_e" | "gdpr_art_6_1_e" => Self::PublicPolicy,
            "gdpr_6_1_f" | "gdpr_art_6_1_f" => Self::LegitimateInterest,
            _ => return None,
        })
    }

    /// The articles this basis corresponds to, for the export document.
    pub fn articles(self) -> &'static str {
        match self {
            Self::Consent => "LGPD art. 7 I; GDPR art. 6(1)(a)",
            Self::LegalObligation => "LGPD art. 7 II; GDPR art. 6(1)(c)",
            Self::PublicPolicy => "LGPD art. 7 III; GDPR art. 6(1)(e)",
            Self::Research => "LGPD art. 7 IV",
            Self::Contract => "LGPD art. 7 V; GDPR art. 6(1)(b)",
            Self::ExerciseOfRights => "LGPD art. 7 VI",
            Self::ProtectionOfLife => "LGPD art. 7 VII; GDPR art. 6(1)(d)",
            Self::HealthProtection => "LGPD art. 7 VIII",
            Self::LegitimateInterest => "LGPD art. 7 IX; GDPR art. 6(1)(f)",
            Self::CreditProtection => "LGPD art. 7 X",
        }
    }
}

/// How the consent was captured: the burden of proof is on the controller (LGPD art. 8 §2, GDPR art. 7(1)).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// Where: a URL, `store:123/staff:45`, a WhatsApp message id, `segment:<messageId>`.
    #[serde(default)]
    pub touchpoint: Option<String>,
    /// How: `checkbox`, `double_opt_in`, `verbal_attested`, `signed_form`, `cmp` …
    #[serde(default)]
    pub method: Option<String>,
    /// When the person acted, by the client's clock (RFC 3339), if known.
    #[serde(default)]
    pub captured_at: Option<String>,
    /// The CMP's raw string (e.g. an IAB TCF TC string), kept as given.
    #[serde(default)]
    pub cmp_string: Option<String>,
    #[serde(default)]
    pub ip: Option<String>,
    #[serde(default)]
    pub user_agent: Option<String>,
}

/// A new ledger entry, as the API and the Segment ingestion path produce it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NewConsent {
    pub purpose: Purpose,
    pub channel: ChannelScope,
    pub status: ConsentStatus,
    pub legal_basis: LegalBasis,
    pub notice_version: Option<String>,
    pub evidence: Evidence,
    /// When it takes effect (defaults to when it is recorded).
    pub effective_at: Option<Millis>,
    /// Review/expiry date for a grant.
    pub expires_at: Option<Millis>,
    /// `api`, `segment` or a channel name.
    pub source: String,
}
