//! The supervisor's indicators: charts drawn here as SVG, every number a link to the
//! conversations behind it, and a CSV with one row per conversation. The numbers come from
//! `concierge_desk::report`, which also selects the drill-down rows, so the two always agree.

use super::*;
use concierge_desk::report::{self, Drill, Percentiles, Report, Row};

#[derive(Deserialize)]
pub(super) struct DashQuery {
    days: Option<u32>,
    #[serde(default)]
    m: String,
    #[serde(default)]
    k: String,
}

const DAY: i64 = 86_400_000;

fn drill_of(q: &DashQuery) -> Result<Drill, Failure> {
    Drill::parse(&q.m, &q.k)
        .ok_or_else(|| Failure::new(ErrorCode::InvalidRequest, "no such indicator"))
}

fn period(q: &DashQuery) -> u32 {
    q.days.unwrap_or(7).clamp(1, 365)
}

async fn rows(s: &SharedState, days: u32, now: i64) -> Result<Vec<Row>, Failure> {
    let since = now - i64::from(days) * DAY;
    let convs = s.store.desk_conversations(since).await?;
    let facts = convs
        .iter()
        .map(|d| facts(&d.conversation, &d.turns))
        .collect();
    Ok(report::rows(&s.config.sla, facts, since, now))
}

fn link(days: u32, d: &Drill) -> String {
    let (m, k) = d.query();
    format!(
        "/app/dashboard/list?days={days}&amp;m={m}&amp;k={}",
        esc(&crate::routes::percent_encode(&k))
    )
}

/// Horizontal bars, one link each: `(label, value, href)`.
fn hbars(title: &str, items: &[(String, usize, String)]) -> String {
    let max = items.iter().map(|i| i.1).max().unwrap_or(0).max(1);
    let (row, label_w, bar_w) = (26, 150, 360);
    let height = row * items.len().max(1) + 8;
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {height}\" width=\"100%\"><title>{t}</title>",
        t = esc(title),
        w = label_w + bar_w + 60,
    );
    for (i, (label, value, href)) in items.iter().enumerate() {
        let y = i * row + 4;
        let w = (value * bar_w / max).max(if *value > 0 { 2 } else { 0 });
        svg.push_str(&format!(
            "<a href=\"{href}\"><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{label}</text>\
             <rect class=\"bar\" x=\"{label_w}\" y=\"{y}\" width=\"{w}\" height=\"{h}\" rx=\"3\"></rect>\
             <text x=\"{vx}\" y=\"{ty}\" class=\"value\">{value}</text></a>",
            lx = label_w - 8,
            ty = y + 15,
            label = esc(label),
            h = row - 8,
            vx = label_w + w + 6,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// Vertical bars for the 24 hours of the day.
fn hours_chart(title: &str, by_hour: &[usize; 24], days: u32) -> String {
    let max = by_hour.iter().copied().max().unwrap_or(0).max(1);
    let (col, height) = (24, 140);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\"><title>{t}</title>",
        t = esc(title),
        w = col * 24 + 10,
        h = height + 36,
    );
    for (hour, value) in by_hour.iter().enumerate() {
        let bh = value * height / max;
        let x = hour * col + 5;
        svg.push_str(&format!(
            "<a href=\"{href}\"><rect class=\"bar\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{bh}\" rx=\"2\"><title>{hour}h: {value}</title></rect>\
             <text x=\"{tx}\" y=\"{ly}\" text-anchor=\"middle\" class=\"axis\">{hour}</text></a>",
            href = link(days, &Drill::Hour(hour as u8)),
            y = height - bh + 4,
            w = col - 6,
            tx = x + (col - 6) / 2,
            ly = height + 22,
        ));
    }
    svg.push_str("</svg>");
    svg
}

/// One stacked bar per SLA target: met, breached, running.
fn sla_chart(t: &Texts, r: &Report, days: u32) -> String {
    let (row, label_w, bar_w) = (30, 150, 360);
    let mut svg = format!(
        "<svg class=\"chart\" role=\"img\" aria-label=\"{t}\" viewBox=\"0 0 {w} {h}\" width=\"100%\"><title>{t}</title>",
        t = esc(t.sla_attainment),
        w = label_w + bar_w + 120,
        h = row * 3 + 8,
    );
    for (i, (name, count)) in r.sla.iter().enumerate() {
        let total = (count.met + count.breached + count.running).max(1);
        let y = i * row + 4;
        let mut x = label_w;
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{}</text>",
            label_w - 8,
            y + 17,
            esc(t.sla_names[i])
        ));
        for (outcome, n, label) in [
            ("met", count.met, t.met),
            ("breached", count.breached, t.breached),
            ("running", count.running, t.running),
        ] {
            let w = n * bar_w / total;
            if w == 0 {
                continue;
            }
            svg.push_str(&format!(
                "<a href=\"{href}\"><rect class=\"{outcome}\" x=\"{x}\" y=\"{y}\" width=\"{w}\" height=\"{h}\"><title>{label}: {n}</title></rect></a>",
                href = link(days, &Drill::Sla(name.to_string(), outcome.into())),
                h = row - 8,
            ));
            x += w;
        }
        let pct = count
            .attainment()
            .map(|p| format!("{p:.0}%"))
            .unwrap_or_else(|| "—".into());
        svg.push_str(&format!(
            "<text x=\"{}\" y=\"{}\" class=\"value\">{pct}</text>",
            label_w + bar_w + 8,
            y + 17
        ));
    }
    svg.push_str("</svg>");
    svg
}

fn pct(p: Option<f64>) -> String {
    p.map(|p| format!("{p:.0}%")).unwrap_or_else(|| "—".into())
}

fn p50_p90(p: &Percentiles) -> String {
    match (p.p50, p.p90) {
        (Some(a), Some(b)) => format!("{} / {}", span(a), span(b)),
        _ => "—".into(),
    }
}

fn card(label: &str, value: &str, href: &str) -> String {
    format!(
        "<a class=\"card\" href=\"{href}\"><span class=\"label\">{}</span><span class=\"number\">{}</span></a>",
        esc(label),
        esc(value)
    )
}

fn people_table(
    t: &Texts,
    lines: &[report::PersonLine],
    days: u32,
    drill: fn(String) -> Drill,
) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = format!(
        "<table class=\"people\"><thead><tr><th>{}</th><th>{}</th><th>{}</th><th>{} p50</th><th>{}</th></tr></thead><tbody>",
        t.name, t.conversations_l, t.resolved_l, t.first_response_time, t.breaches
    );
    for l in lines {
        out.push_str(&format!(
            "<tr><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&l.name),
            link(days, &drill(l.name.clone())),
            l.conversations,
            l.resolved,
            l.first_response.p50.map(span).unwrap_or_else(|| "—".into()),
            l.breaches
        ));
    }
    out.push_str("</tbody></table>");
    out
}

pub(super) async fn dashboard(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<DashQuery>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    let t = texts_for(&who.user.language);
    let days = period(&q);
    let now = chrono::Utc::now().timestamp_millis();
    let rows = rows(&s, days, now).await?;
    let r = report::report(&rows);
    let periods: String = [1, 7, 30, 90]
        .iter()
        .map(|d| {
            let current = if *d == days {
                " aria-current=\"page\""
            } else {
                ""
            };
            let label = if *d == 1 {
                "24 h".to_string()
            } else {
                format!("{d} {}", t.days)
            };
            format!("<a href=\"/app/dashboard?days={d}\"{current}>{label}</a>")
        })
        .collect();
    let cards = [
        card(
            t.conversations_l,
            &r.conversations.to_string(),
            &link(days, &Drill::All),
        ),
        card(
            &format!("{} p50 / p90", t.first_response_time),
            &p50_p90(&r.first_response),
            &link(days, &Drill::FirstResponse),
        ),
        card(
            &format!("{} p50 / p90", t.resolution_time),
            &p50_p90(&r.resolution),
            &link(days, &Drill::Resolved),
        ),
        card(
            t.containment,
            &pct(r.containment()),
            &link(days, &Drill::Contained),
        ),
        card(
            t.escalation,
            &pct(r.escalation()),
            &link(days, &Drill::Escalated),
        ),
        card(
            t.breaches,
            &r.breached.to_string(),
            &link(days, &Drill::Breached),
        ),
    ]
    .concat();
    let channels: Vec<(String, usize, String)> = r
        .by_channel
        .iter()
        .map(|(k, n)| {
            (
                channel_name(*k).to_string(),
                *n,
                link(days, &Drill::Channel(*k)),
            )
        })
        .collect();
    let backlog: Vec<(String, usize, String)> = r
        .backlog
        .iter()
        .enumerate()
        .map(|(i, (k, n))| {
            (
                t.backlog_names[i].to_string(),
                *n,
                link(days, &Drill::Backlog(k.to_string())),
            )
        })
        .collect();
    let reasons: Vec<(String, usize, String)> = r
        .reasons
        .iter()
        .map(|(k, n)| {
            let label = if k.is_empty() { "—" } else { k };
            (label.to_string(), *n, link(days, &Drill::Reason(k.clone())))
        })
        .collect();
    let body = if r.conversations == 0 && r.backlog.iter().all(|b| b.1 == 0) {
        format!("<p>{}</p>", t.none_in_period)
    } else {
        format!(
            "<div class=\"cards\">{cards}</div>\
             <div class=\"grid\">\
             <section><h2>{by_channel}</h2>{ch}</section>\
             <section><h2>{by_hour}</h2>{hours}</section>\
             <section><h2>{sla_t}</h2>{sla}</section>\
             <section><h2>{backlog_t}</h2>{bl}</section>\
             <section><h2>{bot} · {reasons_t}</h2><p>{bot}: <a href=\"{bot_link}\">{touched}</a> · {containment}: {cpct} · {escalation}: {epct}</p>{rs}</section>\
             </div>\
             <section><h2>{by_agent}</h2>{agents}</section><section><h2>{by_team}</h2>{teams}</section>\
             <p class=\"help\">{survey}</p>",
            by_channel = t.by_channel,
            ch = hbars(t.by_channel, &channels),
            by_hour = t.by_hour,
            hours = hours_chart(t.by_hour, &r.by_hour, days),
            sla_t = t.sla_attainment,
            sla = sla_chart(t, &r, days),
            backlog_t = t.backlog,
            bl = hbars(t.backlog, &backlog),
            bot = t.bot_l,
            reasons_t = t.reasons,
            bot_link = link(days, &Drill::BotTouched),
            touched = r.bot_touched,
            containment = t.containment,
            cpct = pct(r.containment()),
            escalation = t.escalation,
            epct = pct(r.escalation()),
            rs = hbars(t.reasons, &reasons),
            by_agent = t.by_agent,
            agents = people_table(t, &r.agents, days, Drill::Agent),
            by_team = t.by_team,
            teams = people_table(t, &r.teams, days, Drill::Team),
            survey = t.survey_pending,
        )
    };
    let page_body = format!(
        "{top}<main class=\"dashboard\" data-live=\"dashboard\"><h1>{title}</h1>\
         <nav class=\"filters\">{periods}<a class=\"csv\" href=\"/app/dashboard.csv?days={days}\" download>{csv}</a></nav>{body}</main>",
        top = top(t, &who),
        title = t.dashboard,
        csv = t.export_csv,
    );
    Ok(page(StatusCode::OK, shell(t, t.dashboard, &page_body)))
}

/// The conversations behind one number.
pub(super) async fn drill_down(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<DashQuery>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    let t = texts_for(&who.user.language);
    let days = period(&q);
    let drill = drill_of(&q)?;
    let now = chrono::Utc::now().timestamp_millis();
    let rows = rows(&s, days, now).await?;
    let mut picked: Vec<&Row> = rows.iter().filter(|r| drill.matches(r)).collect();
    picked.sort_by_key(|r| std::cmp::Reverse(r.facts.id));
    let mut table = String::new();
    for r in &picked {
        let f = &r.facts;
        table.push_str(&format!(
            "<tr data-href=\"/app/c/{id}\"><td>{icon}</td><td dir=\"auto\"><a href=\"/app/c/{id}\">{contact}</a></td><td>{status}</td><td>{owner}</td>\
             <td>{team}</td><td>{frt}</td><td>{res}</td><td>{sla}</td><td>{reason}</td><td>{created}</td></tr>",
            id = f.id,
            icon = channel_icon(f.channel),
            contact = esc(&f.contact),
            status = t.status(f.status),
            owner = esc(&owner_text(&f.owner)),
            team = esc(f.team.as_deref().unwrap_or("")),
            frt = r.sla.first_response_ms.map(span).unwrap_or_default(),
            res = r.sla.resolution_ms.map(span).unwrap_or_default(),
            sla = sla_badge(t, &r.sla, now),
            reason = esc(f.handoff_reason.as_deref().unwrap_or("")),
            created = time(concierge_types::view::Timestamp(f.created_at)),
        ));
    }
    let (m, k) = drill.query();
    let body = format!(
        "{top}<main><p><a href=\"/app/dashboard?days={days}\">← {dash}</a></p><h1>{dash}: {m} {k} <small>({n} {convs})</small></h1>\
         <p><a href=\"/app/dashboard.csv?days={days}&amp;m={m}&amp;k={ke}\" download>{csv}</a></p>\
         <table id=\"drill\"><thead><tr><th>{ch}</th><th>{contact}</th><th>{st}</th><th>{owner}</th><th>{team}</th><th>{frt}</th><th>{res}</th><th>SLA</th><th>{reasons}</th><th>{created}</th></tr></thead>\
         <tbody>{table}</tbody></table></main><script src=\"/assets/app.js\"></script>",
        top = top(t, &who),
        dash = t.dashboard,
        k = esc(&k),
        ke = esc(&crate::routes::percent_encode(&k)),
        n = picked.len(),
        convs = t.conversations_l,
        csv = t.export_csv,
        ch = t.channel_l,
        contact = t.columns[1],
        st = t.status_l,
        owner = t.columns[3],
        team = t.team_l,
        frt = t.first_response_time,
        res = t.resolution_time,
        reasons = t.reasons,
        created = t.columns[5],
    );
    Ok(page(StatusCode::OK, shell(t, t.dashboard, &body)))
}

/// One row per conversation of the period (or of one drill-down).
pub(super) async fn export_csv(
    State(s): State<SharedState>,
    who: SignedIn,
    Query(q): Query<DashQuery>,
) -> Result<Response, Failure> {
    who.require(Role::Supervisor)?;
    let days = period(&q);
    let drill = drill_of(&q)?;
    let now = chrono::Utc::now().timestamp_millis();
    let rows: Vec<Row> = rows(&s, days, now)
        .await?
        .into_iter()
        .filter(|r| drill.matches(r))
        .map(|mut r| {
            // A backlog drill-down exports its rows even when they began before the period.
            r.in_period = true;
            r
        })
        .collect();
    let body = report::csv(&rows, |ms| {
        chrono::DateTime::from_timestamp_millis(ms)
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default()
    });
    let name = format!("conversations-{days}d.csv");
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_string()),
            (header::CACHE_CONTROL, "no-store".to_string()),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff".to_string()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        body,
    )
        .into_response())
}
