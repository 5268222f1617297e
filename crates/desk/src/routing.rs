//! Which team a conversation goes to, by the teams' skills: the languages they speak, the
//! channels they cover and the topics they handle. An empty skill list means "any".

use concierge_types::conversation::ChannelKind;
use concierge_types::TeamView;

/// The team that fits the conversation best: every skill list must be empty or hold the
/// conversation's value (an unknown value fits any list), and among those the team with the most
/// matching non-empty lists wins (the most specific); ties go to the oldest team. `None` when no
/// team fits.
pub fn pick_team<'a>(
    teams: &'a [TeamView],
    language: Option<&str>,
    channel: ChannelKind,
    topic: Option<&str>,
) -> Option<&'a TeamView> {
    let lang = language.map(primary);
    let mut best: Option<(usize, &TeamView)> = None;
    for t in teams {
        let mut score = 0;
        let mut fits = true;
        let mut check =
            |list: &[String], value: Option<&str>, same: &dyn Fn(&str, &str) -> bool| {
                if list.is_empty() {
                    return;
                }
                match value {
                    Some(v) if list.iter().any(|x| same(x, v)) => score += 1,
                    Some(_) => fits = false,
                    None => {}
                }
            };
        check(&t.languages, lang.as_deref(), &|x, v| primary(x) == v);
        check(&t.channels, Some(channel.as_str()), &|x, v| {
            x.eq_ignore_ascii_case(v)
        });
        check(&t.topics, topic, &|x, v| x.eq_ignore_ascii_case(v));
        if fits && best.is_none_or(|(s, b)| score > s || (score == s && t.id < b.id)) {
            best = Some((score, t));
        }
    }
    best.map(|(_, t)| t)
}

/// `pt-BR` → `pt`.
fn primary(tag: &str) -> String {
    tag.split(['-', '_'])
        .next()
        .unwrap_or(tag)
        .to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn team(
        id: i64,
        name: &str,
        languages: &[&str],
        channels: &[&str],
        topics: &[&str],
    ) -> TeamView {
        let v = |l: &[&str]| l.iter().map(|s| s.to_string()).collect();
        TeamView {
            id,
            name: name.into(),
            languages: v(languages),
            channels: v(channels),
            topics: v(topics),
            members: Vec::new(),
        }
    }

    #[test]
    fn the_most_specific_fitting_team_wins() {
        let teams = vec![
            team(1, "atendimento", &["pt-BR"], &[], &[]),
            team(2, "international", &["en", "es"], &[], &[]),
            team(
                3,
                "logistica",
                &["pt"],
                &[],
                &["track_order", "delivery_problem"],
            ),
            team(4, "social", &[], &["instagram", "messenger"], &[]),
        ];
        let pick = |l, c, t| pick_team(&teams, l, c, t).map(|t| t.name.as_str());
        assert_eq!(
            pick(Some("pt"), ChannelKind::Whatsapp, None),
            Some("atendimento")
        );
        assert_eq!(
            pick(Some("pt-BR"), ChannelKind::Whatsapp, Some("track_order")),
            Some("logistica")
        );
        assert_eq!(
            pick(Some("es"), ChannelKind::Email, Some("refund")),
            Some("international")
        );
        // Social covers Instagram in any language, but a Portuguese speaker there fits
        // atendimento as well: equally specific, the older team wins.
        assert_eq!(
            pick(Some("pt"), ChannelKind::Instagram, None),
            Some("atendimento")
        );
        assert_eq!(
            pick(Some("de"), ChannelKind::Instagram, None),
            Some("social")
        );
        assert_eq!(pick(Some("de"), ChannelKind::Email, None), None);
        // Language unknown: every team fits on language.
        assert_eq!(pick(None, ChannelKind::Webchat, None), Some("atendimento"));
    }
}
