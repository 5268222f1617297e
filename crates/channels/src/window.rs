//! Reply windows as data: how long after the customer's last message a provider lets the brand
//! answer, and what it still allows after that.

use crate::send::{Outgoing, SendContext};
use concierge_types::conversation::ChannelKind;
use concierge_types::Millis;
use serde::Serialize;

/// A provider's reply rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ReplyWindow {
    /// Hours after the customer's last message during which anything may be sent; `None` = no
    /// limit.
    pub hours: Option<u32>,
    /// Hours during which a tagged message may still be sent (Meta's `HUMAN_AGENT` tag: 7 days).
    pub tagged_hours: Option<u32>,
    /// Whether templates may be sent outside the window (WhatsApp).
    pub templates_outside: bool,
}

impl ReplyWindow {
    /// No window: email, Telegram, Viber, webchat, API.
    pub const NONE: ReplyWindow = ReplyWindow {
        hours: None,
        tagged_hours: None,
        templates_outside: false,
    };

    /// Where a conversation stands at `ctx.now`.
    pub fn state(&self, ctx: &SendContext) -> WindowState {
        let Some(hours) = self.hours else {
            return WindowState::Unlimited;
        };
        let Some(last) = ctx.last_incoming_at else {
            return WindowState::Closed { closed_at: None };
        };
        let closes_at = after_hours(last, hours);
        if ctx.now < closes_at {
            return WindowState::Open { closes_at };
        }
        if let Some(tagged) = self.tagged_hours {
            let tagged_closes_at = after_hours(last, tagged);
            if ctx.now < tagged_closes_at {
                return WindowState::Tagged {
                    closes_at: tagged_closes_at,
                };
            }
        }
        WindowState::Closed {
            closed_at: Some(closes_at),
        }
    }
}

/// Where a conversation stands in its reply window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// This channel has no window.
    Unlimited,
    /// Anything may be sent until `closes_at` (ms).
    Open { closes_at: Millis },
    /// The window closed, but a tagged message (`HUMAN_AGENT`) may be sent until `closes_at`.
    Tagged { closes_at: Millis },
    /// Closed at `closed_at`; `None` when the customer never wrote.
    Closed { closed_at: Option<Millis> },
}

fn after_hours(t: Millis, hours: u32) -> Millis {
    t.saturating_add(i64::from(hours) * 3_600_000)
}

/// The reply rules of `kind` (no window for kinds without a plug-in here).
pub fn reply_window(kind: ChannelKind) -> ReplyWindow {
    crate::provider(kind).map_or(ReplyWindow::NONE, |p| p.reply_window())
}

/// Whether `out` may be sent on a `kind` channel now; the error says why not and what is still
/// possible.
pub fn check_window(kind: ChannelKind, ctx: &SendContext, out: &Outgoing) -> Result<(), String> {
    let window = reply_window(kind);
    if window.templates_outside && matches!(out, Outgoing::Template { .. }) {
        return Ok(());
    }
    let name = display_name(kind);
    let hours = window.hours.unwrap_or_default();
    let still = if window.templates_outside {
        "only approved templates can be sent".to_string()
    } else {
        format!("{name} allows no message until the customer writes again")
    };
    match window.state(ctx) {
        WindowState::Unlimited | WindowState::Open { .. } | WindowState::Tagged { .. } => Ok(()),
        WindowState::Closed { closed_at: None } => Err(format!(
            "the customer has not written on {name} yet, so the {hours}-hour reply window is not open; {still}"
        )),
        WindowState::Closed {
            closed_at: Some(at),
        } => match window.tagged_hours {
            Some(tagged) => Err(format!(
                "the {name} {hours}-hour reply window closed at {}, and the {}-day human-agent window (HUMAN_AGENT tag) at {}; {still}",
                format_utc(at),
                tagged / 24,
                format_utc(after_hours(ctx.last_incoming_at.unwrap_or(at), tagged)),
            )),
            None if kind == ChannelKind::Whatsapp => Err(format!(
                "the WhatsApp {hours}-hour customer-service window closed at {}; {still}",
                format_utc(at)
            )),
            None => Err(format!(
                "the {name} {hours}-hour reply window closed at {}; {still}",
                format_utc(at)
            )),
        },
    }
}

pub(crate) fn display_name(kind: ChannelKind) -> &'static str {
    match kind {
        ChannelKind::Whatsapp => "WhatsApp",
        ChannelKind::Messenger => "Messenger",
        ChannelKind::Instagram => "Instagram",
        ChannelKind::Telegram => "Telegram",
        ChannelKind::Viber => "Viber",
        ChannelKind::Tiktok => "TikTok",
        ChannelKind::Email => "email",
        ChannelKind::Webchat => "webchat",
        ChannelKind::Store => "store",
        ChannelKind::Api => "API",
    }
}

/// `ms` as RFC 3339 UTC to the second ("2023-10-11T16:53:43Z").
pub(crate) fn format_utc(ms: Millis) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's days-to-civil algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOUR: i64 = 3_600_000;
    const T0: i64 = 1_697_043_223_000; // 2023-10-11T16:53:43Z

    fn ctx(hours_after: i64) -> SendContext {
        SendContext {
            now: T0 + hours_after * HOUR,
            last_incoming_at: Some(T0),
        }
    }

    fn text() -> Outgoing {
        Outgoing::Text { text: "hi".into() }
    }

    fn template() -> Outgoing {
        Outgoing::Template {
            name: "order_update".into(),
            language: "en_US".into(),
            params: vec![],
        }
    }

    #[test]
    fn utc_formatting() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_utc(T0), "2023-10-11T16:53:43Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00Z");
        assert_eq!(format_utc(-1000), "1969-12-31T23:59:59Z");
        // Never panics at the extremes.
        let _ = format_utc(i64::MAX);
        let _ = format_utc(i64::MIN);
    }

    #[test]
    fn whatsapp_text_only_inside_24_hours_templates_always() {
        assert_eq!(
            check_window(ChannelKind::Whatsapp, &ctx(23), &text()),
            Ok(())
        );
        let err = check_window(ChannelKind::Whatsapp, &ctx(25), &text()).unwrap_err();
        assert_eq!(
            err,
            "the WhatsApp 24-hour customer-service window closed at 2023-10-12T16:53:43Z; only approved templates can be sent"
        );
        assert_eq!(
            check_window(ChannelKind::Whatsapp, &ctx(25), &template()),
            Ok(())
        );
        // Exactly at the end the window is closed (now < last + 24 h is the rule).
        assert!(check_window(ChannelKind::Whatsapp, &ctx(24), &text()).is_err());
        let never = SendContext {
            now: T0,
            last_incoming_at: None,
        };
        assert!(check_window(ChannelKind::Whatsapp, &never, &text())
            .unwrap_err()
            .contains("has not written on WhatsApp yet"));
        assert_eq!(
            check_window(ChannelKind::Whatsapp, &never, &template()),
            Ok(())
        );
    }

    #[test]
    fn messenger_allows_human_agent_up_to_seven_days() {
        let w = reply_window(ChannelKind::Messenger);
        assert!(matches!(w.state(&ctx(1)), WindowState::Open { .. }));
        assert_eq!(
            w.state(&ctx(72)),
            WindowState::Tagged {
                closes_at: T0 + 168 * HOUR
            }
        );
        assert_eq!(
            check_window(ChannelKind::Messenger, &ctx(72), &text()),
            Ok(())
        );
        let err = check_window(ChannelKind::Messenger, &ctx(8 * 24), &text()).unwrap_err();
        assert!(err.contains("7-day human-agent window"), "{err}");
        assert!(err.contains("2023-10-18T16:53:43Z"), "{err}");
        assert!(check_window(ChannelKind::Instagram, &ctx(8 * 24), &text()).is_err());
    }

    #[test]
    fn tiktok_48_hours_no_templates() {
        assert_eq!(check_window(ChannelKind::Tiktok, &ctx(47), &text()), Ok(()));
        assert!(check_window(ChannelKind::Tiktok, &ctx(49), &text())
            .unwrap_err()
            .contains("TikTok 48-hour reply window closed"));
        assert!(check_window(ChannelKind::Tiktok, &ctx(49), &template()).is_err());
    }

    #[test]
    fn no_window_channels_always_allow() {
        let never = SendContext {
            now: T0 + 1000 * HOUR,
            last_incoming_at: None,
        };
        for kind in [ChannelKind::Email, ChannelKind::Webchat, ChannelKind::Api] {
            assert_eq!(
                check_window(kind, &ctx(10_000), &text()),
                Ok(()),
                "{kind:?}"
            );
            assert_eq!(check_window(kind, &never, &text()), Ok(()), "{kind:?}");
        }
    }

    #[test]
    fn extreme_times_do_not_overflow() {
        let c = SendContext {
            now: i64::MAX - 10,
            last_incoming_at: Some(i64::MAX - 20),
        };
        assert_eq!(check_window(ChannelKind::Whatsapp, &c, &text()), Ok(()));
        let c = SendContext {
            now: i64::MAX,
            last_incoming_at: Some(i64::MIN),
        };
        assert!(check_window(ChannelKind::Messenger, &c, &text()).is_err());
    }
}
