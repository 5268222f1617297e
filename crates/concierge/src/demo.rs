//! `concierge demo`: a fresh data folder filled with a Brazilian shop's last weeks (Loja Aurora):
//! a few hundred customers on WhatsApp, Instagram, e-mail, the web chat and the stores, orders
//! with deliveries, survey answers, and conversations in every state (settled by the bot, waiting
//! in a queue, with an agent, resolved). The people, teams, canned responses and the starter
//! bot are set up, and the channels send to a local stand-in that accepts every message, so
//! replies typed in the demo show as sent. Everything is generated from a fixed seed; only the
//! passwords are random.

use crate::bench::Rng;
use crate::config::Config;
use anyhow::{Context, Result};
use concierge_store::{ImportedConversation, ImportedMessage, NewChannel, NewUser, Store};
use concierge_types::conversation::{
    Author, ChannelKind, Content, ConversationStatus, DeliveryStatus, MediaKind, Owner,
};
use concierge_types::{Identifier, IdentifierKind, ProfileId, Role};
use serde_json::{json, Value};
use std::sync::Arc;

const MINUTE: i64 = 60_000;
const HOUR: i64 = 60 * MINUTE;
const DAY: i64 = 24 * HOUR;
const CUSTOMERS: usize = 320;
const CONVERSATIONS: usize = 260;

const FIRST: &[&str] = &[
    "Ana",
    "Bruna",
    "Camila",
    "Daniela",
    "Eduarda",
    "Fernanda",
    "Gabriela",
    "Helena",
    "Isabela",
    "Júlia",
    "Larissa",
    "Mariana",
    "Natália",
    "Patrícia",
    "Rafaela",
    "Sofia",
    "Thaís",
    "Vitória",
    "André",
    "Bruno",
    "Carlos",
    "Diego",
    "Eduardo",
    "Felipe",
    "Gustavo",
    "Henrique",
    "João",
    "Lucas",
    "Marcelo",
    "Paulo",
    "Rafael",
    "Thiago",
    "Vinícius",
    "Caio",
    "Renata",
    "Luíza",
];
const LAST: &[&str] = &[
    "Silva", "Santos", "Oliveira", "Souza", "Lima", "Pereira", "Ferreira", "Almeida", "Costa",
    "Gomes", "Ribeiro", "Martins", "Carvalho", "Rocha", "Barbosa", "Araújo", "Mendes", "Nunes",
];
const CITIES: &[&str] = &[
    "São Paulo",
    "Rio de Janeiro",
    "Belo Horizonte",
    "Curitiba",
    "Porto Alegre",
    "Recife",
    "Salvador",
    "Fortaleza",
    "Campinas",
    "Florianópolis",
];
const PRODUCTS: &[(&str, &str, f64)] = &[
    ("TEN-100", "Tênis Corrida Leve", 349.90),
    ("CAM-220", "Camiseta Algodão", 59.90),
    ("MOC-020", "Mochila Urbana 20L", 189.00),
    ("GAR-075", "Garrafa Térmica", 79.50),
    ("FON-BT5", "Fone Bluetooth", 229.00),
    ("JAQ-310", "Jaqueta Corta-Vento", 279.90),
];
const NPS_COMMENTS: &[(u8, &str)] = &[
    (10, "Entrega rápida e atendimento excelente no WhatsApp!"),
    (9, "Gostei muito, o bot resolveu meu pedido em segundos."),
    (8, "Produto bom, mas a embalagem veio amassada."),
    (7, "Demorou um pouco para alguém responder no chat."),
    (6, "Tive que explicar meu problema duas vezes."),
    (4, "A entrega atrasou e ninguém me avisou."),
    (2, "Troca muito burocrática, esperei dias por resposta."),
    (10, "Loja física atendeu super bem, voltarei."),
];

/// A logged-in demo person: role, e-mail, password, name, language.
pub struct Login {
    pub role: Role,
    pub email: String,
    pub password: String,
}

struct Customer {
    id: ProfileId,
    name: String,
    phone: Option<String>,
    email: Option<String>,
    instagram: Option<String>,
    orders: Vec<(String, i64, &'static str)>,
}

/// Fills `store` (a fresh one) and returns the demo's logins.
pub async fn seed(
    store: &Arc<dyn Store>,
    config: &Config,
    provider_url: &str,
) -> Result<Vec<Login>> {
    let now = chrono::Utc::now().timestamp_millis();
    let mut rng = Rng(0x5eed_a0e0_2026_1123);
    let logins = people(store).await?;
    let channels = channels(store, provider_url).await?;
    let customers = customers(store, config, &mut rng, now).await?;
    conversations(store, &channels, &customers, &mut rng, now).await?;
    let body = include_str!("../../bot/starter/ecommerce-br.json").to_string();
    concierge_bot::definition::Definition::parse(&body)
        .map_err(|e| anyhow::anyhow!("the starter bot: {}", e.join("; ")))?;
    store.save_bot_definition(body).await?;
    Ok(logins)
}

/// `n` random hex characters from the server's token generator: the demo's passwords,
/// secrets and folder name are fresh each run (the fixed seed makes only the data repeatable).
fn random_hex(n: usize) -> Result<String> {
    let token = concierge_server::session::random_token().map_err(|e| anyhow::anyhow!(e.0))?;
    Ok(token[..n.min(token.len())].to_string())
}

/// A random hex secret: nobody can sign webhooks for someone else's demo.
fn secret() -> Result<String> {
    random_hex(32)
}

/// A new folder only this user can read, under the system's temporary folder.
pub fn private_dir() -> Result<std::path::PathBuf> {
    let dir = std::env::temp_dir().join(format!("concierge-demo-{}", random_hex(12)?));
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(&dir)
        .with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn people(store: &Arc<dyn Store>) -> Result<Vec<Login>> {
    let people = [
        (Role::Admin, "admin@aurora.demo", "Ana Admin", "pt-BR"),
        (
            Role::Supervisor,
            "sofia@aurora.demo",
            "Sofia Supervisora",
            "pt-BR",
        ),
        (Role::Agent, "bruno@aurora.demo", "Bruno Atendente", "pt-BR"),
        (Role::Agent, "carla@aurora.demo", "Carla Atendente", "pt-BR"),
        (Role::Agent, "diego@aurora.demo", "Diego Agent", "en"),
        (
            Role::Agent,
            "elisa@aurora.demo",
            "Elisa Financeiro",
            "pt-BR",
        ),
    ];
    let mut logins = Vec::new();
    let mut ids = std::collections::HashMap::new();
    for (role, email, name, language) in people {
        let password = random_hex(16)?;
        let hash =
            concierge_server::session::hash_password(&password).map_err(|e| anyhow::anyhow!(e))?;
        let user = store
            .create_user(NewUser {
                email: email.into(),
                name: name.into(),
                role,
                language: language.into(),
                password_hash: hash,
            })
            .await?;
        ids.insert(email, user.id);
        logins.push(Login {
            role,
            email: email.into(),
            password,
        });
    }
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    let teams = [
        (
            "atendimento",
            s(&["pt"]),
            s(&["whatsapp", "instagram", "webchat"]),
            s(&[]),
            vec![("bruno@aurora.demo", 4), ("carla@aurora.demo", 4)],
        ),
        (
            "logistica",
            s(&["pt"]),
            s(&[]),
            s(&["order_status", "delivery_date", "returns_exchanges"]),
            vec![("carla@aurora.demo", 4)],
        ),
        (
            "financeiro",
            s(&["pt"]),
            s(&[]),
            s(&["payment_boleto", "payment_pix", "invoice"]),
            vec![("elisa@aurora.demo", 3)],
        ),
        (
            "international",
            s(&["en", "es"]),
            s(&[]),
            s(&[]),
            vec![("diego@aurora.demo", 3)],
        ),
        (
            "email",
            s(&[]),
            s(&["email"]),
            s(&[]),
            vec![("bruno@aurora.demo", 4)],
        ),
    ];
    for (name, languages, channels, topics, members) in teams {
        let team = store
            .save_team(name.into(), languages, channels, topics)
            .await?;
        for (email, capacity) in members {
            store
                .set_team_member(team.id, ids[email], Some(capacity))
                .await?;
        }
    }
    let canned = [
        ("saudacao", "pt-BR", "Olá! Aqui é da Loja Aurora, tudo bem? Já estou olhando o seu caso."),
        ("prazo", "pt-BR", "O prazo de entrega é de 3 a 7 dias úteis após a confirmação do pagamento."),
        ("troca", "pt-BR", "Você pode trocar em até 30 dias: é só levar o produto a uma loja ou pedir a coleta por aqui."),
        ("obrigado", "pt-BR", "Obrigado pelo contato! Se precisar de algo mais, é só chamar."),
        ("hello", "en", "Hi! This is Loja Aurora. I'm looking into it right now."),
        ("hola", "es", "¡Hola! Aquí Loja Aurora, ya estoy revisando tu caso."),
    ];
    for (short, lang, text) in canned {
        store
            .save_canned_response(short.into(), lang.into(), text.into())
            .await?;
    }
    Ok(logins)
}

/// Channel kind → channel id.
async fn channels(
    store: &Arc<dyn Store>,
    provider_url: &str,
) -> Result<std::collections::HashMap<ChannelKind, String>> {
    let specs = [
        (
            ChannelKind::Whatsapp,
            "Aurora WhatsApp",
            json!({"app_secret": secret()?, "verify_token": secret()?, "access_token": "demo-access",
                   "phone_number_id": "100200300400500", "api_base": provider_url}),
        ),
        (
            ChannelKind::Instagram,
            "@lojaaurora",
            json!({"app_secret": secret()?, "verify_token": secret()?, "page_access_token": "demo-page",
                   "api_base": provider_url}),
        ),
        (
            ChannelKind::Email,
            "sac@lojaaurora.demo",
            json!({"smtp_url": "smtp://127.0.0.1:9", "address": "sac@lojaaurora.demo"}),
        ),
        (ChannelKind::Webchat, "Site", json!({"secret": secret()?})),
    ];
    let mut out = std::collections::HashMap::new();
    for (kind, name, config) in specs {
        let c = store
            .create_channel(NewChannel {
                kind,
                name: name.into(),
                config,
            })
            .await?;
        out.insert(kind, c.id);
    }
    Ok(out)
}

/// `Júlia Araújo` → `julia.araujo`.
fn slug(name: &str) -> String {
    name.chars()
        .filter_map(|c| {
            let c = c.to_lowercase().next().unwrap_or(c);
            Some(match c {
                'á' | 'à' | 'â' | 'ã' => 'a',
                'é' | 'ê' => 'e',
                'í' => 'i',
                'ó' | 'ô' | 'õ' => 'o',
                'ú' | 'ü' => 'u',
                'ç' => 'c',
                ' ' => '.',
                c if c.is_ascii_alphanumeric() => c,
                _ => return None,
            })
        })
        .collect()
}

fn iso(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
        .unwrap_or_default()
}

fn pick<'a, T>(rng: &mut Rng, items: &'a [T]) -> &'a T {
    &items[rng.below(items.len())]
}

async fn customers(
    store: &Arc<dyn Store>,
    config: &Config,
    rng: &mut Rng,
    now: i64,
) -> Result<Vec<Customer>> {
    let ctx = concierge_segment::IngestContext {
        source: "demo",
        received_at: now,
        default_region: &config.identity.default_region,
        limits: config.ingest.limits(),
    };
    let mut events = Vec::new();
    let mut planned = Vec::new();
    for i in 0..CUSTOMERS {
        let name = format!("{} {}", pick(rng, FIRST), pick(rng, LAST));
        let slug = slug(&name);
        let phone =
            (rng.below(10) < 8).then(|| format!("+55119{:08}", 10_000_000 + i * 7919 % 89_999_999));
        let email = (rng.below(10) < 6).then(|| format!("{slug}.{i}@exemplo.com.br"));
        let instagram = (rng.below(10) < 3).then(|| format!("1784{:011}", 1_000_000 + i * 104_729));
        let joined = now - (20 + rng.below(40) as i64) * DAY;
        let mut traits = json!({"name": name, "city": pick(rng, CITIES)});
        if let Some(p) = &phone {
            traits["phone"] = json!(p);
        }
        if let Some(e) = &email {
            traits["email"] = json!(e);
        }
        if rng.below(5) == 0 {
            traits["loyalty_tier"] = json!(pick(rng, &["prata", "ouro", "diamante"]));
        }
        events.push(
            json!({"type": "identify", "userId": format!("cliente-{i}"), "traits": traits,
            "timestamp": iso(joined), "messageId": format!("demo-id-{i}")}),
        );
        let mut orders = Vec::new();
        for o in 0..rng.below(4) {
            let at = joined + (1 + rng.below(35) as i64) * DAY + rng.below(12) as i64 * HOUR;
            if at > now - HOUR {
                continue;
            }
            let order = format!("PED-{}", 10_000 + i * 4 + o);
            let (sku, product, price) = *pick(rng, PRODUCTS);
            let qty = 1 + rng.below(2);
            let total = price * qty as f64;
            let user = format!("cliente-{i}");
            let base = json!({"order_id": order, "total": total, "currency": "BRL",
                "products": [{"sku": sku, "name": product, "price": price, "quantity": qty}]});
            events.push(json!({"type": "track", "event": "Order Completed", "userId": user, "properties": base,
                "timestamp": iso(at), "messageId": format!("demo-{order}-c")}));
            let shipped = at + (1 + rng.below(2) as i64) * DAY;
            let delivered = shipped + (2 + rng.below(5) as i64) * DAY;
            let mut state = "placed";
            if shipped < now {
                state = "shipped";
                events.push(json!({"type": "track", "event": "Order Shipped", "userId": user,
                    "properties": {"order_id": order, "carrier": "Correios", "tracking_code": format!("BR{:09}BR", 100_000_000 + i * 31 + o)},
                    "timestamp": iso(shipped), "messageId": format!("demo-{order}-s")}));
            }
            if delivered < now {
                state = "delivered";
                events.push(json!({"type": "track", "event": "Order Delivered", "userId": user,
                    "properties": {"order_id": order}, "timestamp": iso(delivered), "messageId": format!("demo-{order}-d")}));
                if rng.below(10) < 4 {
                    let (score, comment) = *pick(rng, NPS_COMMENTS);
                    let answered =
                        (delivered + (1 + rng.below(48) as i64) * HOUR).min(now - MINUTE);
                    events.push(json!({"type": "track", "event": "Survey Answered", "userId": user,
                        "properties": {"survey": "nps", "score": score, "comment": comment, "order_id": order},
                        "timestamp": iso(answered), "messageId": format!("demo-{order}-nps")}));
                }
            }
            orders.push((order, at, state));
        }
        if rng.below(5) == 0 {
            let at = now - (1 + rng.below(25) as i64) * DAY;
            let store_id = pick(rng, &["loja-paulista", "loja-savassi", "loja-batel"]);
            let mut props =
                json!({"store_id": store_id, "visit_id": format!("VIS-{i}"), "reason": "retirada"});
            if let Some(o) = orders.first() {
                props["order_id"] = json!(o.0);
            }
            events.push(
                json!({"type": "track", "event": "Store Visit", "userId": format!("cliente-{i}"),
                "properties": props, "context": {"channel": "store"},
                "timestamp": iso(at), "messageId": format!("demo-visit-{i}")}),
            );
        }
        planned.push((name, phone, email, instagram, orders));
    }
    let parsed: Vec<_> = events
        .into_iter()
        .map(|v| concierge_segment::to_event(v, &ctx))
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("demo event: {}", e.message))?;
    for chunk in parsed.chunks(2000) {
        store.ingest(chunk.to_vec()).await?;
    }
    let mut out = Vec::new();
    for (i, (name, phone, email, instagram, orders)) in planned.into_iter().enumerate() {
        let id = store
            .find_customer(&Identifier {
                kind: IdentifierKind::UserId,
                value: format!("cliente-{i}"),
            })
            .await?
            .with_context(|| format!("demo customer {i} was not stored"))?;
        out.push(Customer {
            id,
            name,
            phone,
            email,
            instagram,
            orders,
        });
    }
    Ok(out)
}

/// What happens in one conversation.
#[derive(Clone, Copy, PartialEq)]
enum Story {
    /// The bot answers and the customer is done.
    BotSettled,
    /// The bot hands over; a person answers and resolves.
    EscalatedResolved,
    /// Handed over minutes ago; nobody free yet.
    WaitingInQueue,
    /// A person is on it now.
    WithAgent,
    /// The bot is talking to the customer right now.
    BotNow,
    /// E-mail: no bot; a person answers.
    Email,
}

struct Lines {
    lang: &'static str,
    ask: &'static str,
    bot_answer: &'static str,
    complaint: &'static str,
    handoff: &'static str,
    agent: &'static str,
    thanks: &'static str,
    closing: &'static str,
}

const PT_LINES: &[Lines] = &[
    Lines {
        lang: "pt",
        ask: "oi, cadê meu pedido {order}?",
        bot_answer: "Seu pedido {order} foi enviado pelos Correios e chega em até 3 dias úteis.",
        complaint: "já é a terceira vez que pergunto, o rastreio não mexe há uma semana!! quero falar com alguém",
        handoff: "Entendi. Vou te passar para uma pessoa da equipe, que já vai ver o histórico do seu pedido. Tempo de espera: cerca de 5 minutos.",
        agent: "Oi! Aqui é {agent}. Vi que o pedido {order} ficou parado na transportadora; abri uma reclamação e te mando o novo prazo ainda hoje.",
        thanks: "obrigada pela ajuda 🙏",
        closing: "Imagina! Qualquer coisa é só chamar.",
    },
    Lines {
        lang: "pt",
        ask: "Bom dia, quero trocar o tamanho do tênis do pedido {order}",
        bot_answer: "Você pode trocar em até 30 dias, em qualquer loja ou pedindo a coleta por aqui. Quer que eu gere a etiqueta de coleta?",
        complaint: "a etiqueta deu erro no site e a loja não aceitou sem nota fiscal, que absurdo",
        handoff: "Sinto muito pelo transtorno. Estou chamando alguém da equipe para resolver a troca com você.",
        agent: "Olá, sou {agent}. Já gerei uma nova etiqueta e enviei a nota fiscal do pedido {order} para o seu e-mail.",
        thanks: "agora sim, valeu!",
        closing: "Por nada! Boa troca 😊",
    },
    Lines {
        lang: "pt",
        ask: "como pago com pix?",
        bot_answer: "No pagamento, escolha Pix: o QR Code vale por 30 minutos e a confirmação é na hora.",
        complaint: "paguei o pix do pedido {order} e o pedido continua como aguardando pagamento",
        handoff: "Vou passar para o financeiro verificar o seu pagamento agora mesmo.",
        agent: "Oi, aqui é {agent}, do financeiro. Localizei o seu Pix do pedido {order}; a confirmação foi liberada agora.",
        thanks: "perfeito, obrigado",
        closing: "Nós que agradecemos!",
    },
];
const EN_LINES: &[Lines] = &[Lines {
    lang: "en",
    ask: "Hi, where is my order {order}?",
    bot_answer: "Your order {order} has shipped and should arrive within 3 business days.",
    complaint: "it says delivered but nothing arrived. I need to talk to a person please",
    handoff: "I'm sorry about that. I'm handing you to a person on our team, who will see everything you told me.",
    agent: "Hi, this is {agent}. I've opened a claim with the carrier for order {order} and will update you today.",
    thanks: "thanks a lot",
    closing: "You're welcome!",
}];
const ES_LINES: &[Lines] = &[Lines {
    lang: "es",
    ask: "Hola, ¿dónde está mi pedido {order}?",
    bot_answer: "Tu pedido {order} fue enviado y llega en hasta 3 días hábiles.",
    complaint: "el seguimiento no cambia hace una semana, quiero hablar con una persona",
    handoff: "Lo siento. Te paso con una persona del equipo, que verá todo lo que me contaste.",
    agent: "Hola, soy {agent}. Abrí un reclamo con la transportadora por el pedido {order}.",
    thanks: "gracias!",
    closing: "¡De nada!",
}];

/// A conversation being written, message by message.
struct Thread {
    at: i64,
    msgs: Vec<ImportedMessage>,
}

impl Thread {
    /// Adds a message `gap` ms after the previous one; returns its time.
    fn say(
        &mut self,
        author: Author,
        name: Option<&str>,
        content: Content,
        gap: i64,
        private: bool,
    ) -> i64 {
        self.at += gap;
        self.msgs.push(ImportedMessage {
            author,
            author_name: name.map(str::to_string),
            private,
            content,
            at: self.at,
            status: match author {
                Author::Customer => None,
                _ if private => None,
                _ => Some(DeliveryStatus::Read),
            },
        });
        self.at
    }
}

fn text(t: &str) -> Content {
    Content::Text { text: t.into() }
}

/// A time in the shop's busy hours (08:00–22:00 at -03:00) of the day `days_ago` days back.
fn busy_time(rng: &mut Rng, now: i64, days_ago: i64) -> i64 {
    let day_start = (now - days_ago * DAY).div_euclid(DAY) * DAY + 3 * HOUR; // local midnight
    day_start + 8 * HOUR + rng.below(14 * 60) as i64 * MINUTE
}

async fn conversations(
    store: &Arc<dyn Store>,
    channels: &std::collections::HashMap<ChannelKind, String>,
    customers: &[Customer],
    rng: &mut Rng,
    now: i64,
) -> Result<()> {
    let agents_pt = [
        ("bruno@aurora.demo", "Bruno"),
        ("carla@aurora.demo", "Carla"),
    ];
    for n in 0..CONVERSATIONS {
        let c = &customers[rng.below(customers.len())];
        let roll = rng.below(100);
        let story = match roll {
            0..=33 => Story::BotSettled,
            34..=55 => Story::EscalatedResolved,
            56..=65 => Story::WaitingInQueue,
            66..=77 => Story::WithAgent,
            78..=85 => Story::BotNow,
            _ => Story::Email,
        };
        // The channel: where this customer can be reached.
        let (kind, thread) = match story {
            Story::Email => match &c.email {
                Some(e) => (ChannelKind::Email, e.clone()),
                None => continue,
            },
            _ => {
                let r = rng.below(10);
                match (&c.phone, &c.instagram) {
                    (Some(p), _) if r < 6 => {
                        (ChannelKind::Whatsapp, p.trim_start_matches('+').to_string())
                    }
                    (_, Some(ig)) if r < 9 => (ChannelKind::Instagram, ig.clone()),
                    _ => (ChannelKind::Webchat, format!("visitor-{}", c.id.0)),
                }
            }
        };
        let lang_roll = rng.below(100);
        let lines = match lang_roll {
            0..=84 => pick(rng, PT_LINES),
            85..=94 => &EN_LINES[0],
            _ => &ES_LINES[0],
        };
        let (agent_email, agent_name) = if lines.lang == "pt" {
            *pick(rng, &agents_pt)
        } else {
            ("diego@aurora.demo", "Diego")
        };
        let team = match (lines.lang, kind) {
            ("en" | "es", _) => "international",
            (_, ChannelKind::Email) => "email",
            _ if lines.ask.contains("pix") => "financeiro",
            _ if lines.ask.contains("trocar") => "logistica",
            _ => "atendimento",
        };
        let order = c
            .orders
            .last()
            .map(|o| o.0.clone())
            .unwrap_or_else(|| "PED-10001".into());
        let fill = |s: &str| s.replace("{order}", &order).replace("{agent}", agent_name);
        let recent = matches!(
            story,
            Story::WaitingInQueue | Story::WithAgent | Story::BotNow
        );
        let start = if recent {
            now - (5 + rng.below(5 * 60) as i64) * MINUTE
        } else {
            {
                let days = 1 + rng.below(13) as i64;
                busy_time(rng, now, days)
            }
        };
        let mut th = Thread {
            at: start,
            msgs: Vec::new(),
        };
        let customer_name = Some(c.name.as_str());
        // The person's reply time: mostly minutes, sometimes hours (the SLA breaches).
        let wait = |rng: &mut Rng| -> i64 {
            match rng.below(10) {
                0..=5 => (1 + rng.below(12) as i64) * MINUTE,
                6..=8 => (15 + rng.below(60) as i64) * MINUTE,
                _ => (2 + rng.below(6) as i64) * HOUR,
            }
        };
        let mut handed_at = None;
        let mut resolved_at = None;
        let mut handoff_reason = None;
        if story != Story::Email {
            // Every chat starts the same way: the customer asks, the bot answers.
            th.say(
                Author::Customer,
                customer_name,
                text(&fill(lines.ask)),
                0,
                false,
            );
            th.say(
                Author::Bot,
                None,
                text(&fill(lines.bot_answer)),
                2_000,
                false,
            );
        }
        let (status, owner) = match story {
            Story::BotSettled => {
                th.say(
                    Author::Customer,
                    customer_name,
                    text(lines.thanks),
                    (1 + rng.below(4) as i64) * MINUTE,
                    false,
                );
                resolved_at = Some(th.at + 30 * MINUTE);
                (ConversationStatus::Resolved, Owner::Bot)
            }
            Story::BotNow => (ConversationStatus::Open, Owner::Bot),
            Story::EscalatedResolved | Story::WaitingInQueue | Story::WithAgent => {
                if rng.below(4) == 0 {
                    let photo = Content::Media {
                        media: MediaKind::Image,
                        media_id: Some(format!("demo-media-{n}")),
                        url: None,
                        mime_type: Some("image/jpeg".into()),
                        filename: Some("comprovante.jpg".into()),
                        caption: None,
                        sha256: None,
                        size: Some(184_320),
                    };
                    th.say(Author::Customer, customer_name, photo, MINUTE, false);
                }
                th.say(
                    Author::Customer,
                    customer_name,
                    text(&fill(lines.complaint)),
                    (1 + rng.below(3) as i64) * MINUTE,
                    false,
                );
                let handed = th.say(Author::Bot, None, text(lines.handoff), 2_000, false);
                let reason = if lines.complaint.contains("pessoa")
                    || lines.complaint.contains("alguém")
                    || lines.complaint.contains("person")
                {
                    "asked_for_person"
                } else {
                    "frustrated"
                };
                th.say(
                    Author::Bot,
                    None,
                    text(&format!(
                        "Resumo para a equipe: {} · pedido {order} · motivo: {reason}. O cliente já explicou o problema; não peça de novo.",
                        c.name
                    )),
                    1_000,
                    true,
                );
                handed_at = Some(handed);
                handoff_reason = Some(reason.to_string());
                match story {
                    Story::WaitingInQueue => (ConversationStatus::Open, Owner::Queue(team.into())),
                    Story::WithAgent => {
                        let gap = wait(rng).min((now - th.at - MINUTE).max(MINUTE));
                        th.say(
                            Author::Agent,
                            Some(agent_name),
                            text(&fill(lines.agent)),
                            gap,
                            false,
                        );
                        if rng.below(2) == 0 && th.at + 10 * MINUTE < now {
                            th.say(
                                Author::Customer,
                                customer_name,
                                text("ok, fico no aguardo"),
                                5 * MINUTE,
                                false,
                            );
                        }
                        (ConversationStatus::Open, Owner::Agent(agent_email.into()))
                    }
                    _ => {
                        th.say(
                            Author::Agent,
                            Some(agent_name),
                            text(&fill(lines.agent)),
                            wait(rng),
                            false,
                        );
                        th.say(
                            Author::Customer,
                            customer_name,
                            text(lines.thanks),
                            (2 + rng.below(30) as i64) * MINUTE,
                            false,
                        );
                        th.say(
                            Author::Agent,
                            Some(agent_name),
                            text(lines.closing),
                            wait(rng) / 3,
                            false,
                        );
                        resolved_at = Some(th.at + (5 + rng.below(120) as i64) * MINUTE);
                        (
                            ConversationStatus::Resolved,
                            Owner::Agent(agent_email.into()),
                        )
                    }
                }
            }
            Story::Email => {
                let (agent_email, agent_name) = ("bruno@aurora.demo", "Bruno");
                th.say(
                    Author::Customer,
                    customer_name,
                    text(&format!(
                        "Prezados, gostaria da nota fiscal do pedido {order}. Atenciosamente, {}",
                        c.name
                    )),
                    0,
                    false,
                );
                let handed = th.at;
                handed_at = Some(handed);
                let gap = match rng.below(3) {
                    0 => (30 + rng.below(60) as i64) * MINUTE,
                    1 => (3 + rng.below(20) as i64) * HOUR,
                    _ => (5 + rng.below(25) as i64) * MINUTE,
                };
                if start + gap < now - MINUTE {
                    th.say(
                        Author::Agent,
                        Some(agent_name),
                        text(&format!(
                            "Olá, {}! Segue em anexo a nota fiscal do pedido {order}. Qualquer dúvida, estamos à disposição.",
                            c.name
                        )),
                        gap,
                        false,
                    );
                    resolved_at = Some(th.at + HOUR);
                    (
                        ConversationStatus::Resolved,
                        Owner::Agent(agent_email.into()),
                    )
                } else {
                    (ConversationStatus::Open, Owner::Queue("email".into()))
                }
            }
        };
        let resolved_at = resolved_at.map(|r| r.min(now - MINUTE));
        store
            .import_conversation(ImportedConversation {
                channel_id: channels[&kind].clone(),
                thread,
                customer: c.id,
                contact_name: Some(c.name.clone()),
                status,
                owner: owner.clone(),
                language: Some(lines.lang.to_string()),
                team: (handed_at.is_some()).then(|| team.to_string()),
                handoff_reason,
                handed_at,
                resolved_at,
                messages: th.msgs,
            })
            .await?;
    }
    Ok(())
}

/// A stand-in for the providers' APIs: accepts every request and answers with an id in the shape
/// both Meta's WhatsApp and Messenger/Instagram send APIs use. Returns its base URL.
pub async fn provider_stand_in() -> Result<String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move {
        let mut n: u64 = 0;
        while let Ok((mut sock, _)) = listener.accept().await {
            n += 1;
            let id = n;
            tokio::spawn(async move {
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // Read the head and as much body as Content-Length says.
                loop {
                    let Ok(k) = sock.read(&mut buf).await else {
                        return;
                    };
                    if k == 0 {
                        return;
                    }
                    got.extend_from_slice(&buf[..k]);
                    if got.len() > 1 << 20 {
                        return;
                    }
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .and_then(|v| v.trim().parse::<usize>().ok())
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len || got.len() > 1 << 20 {
                            break;
                        }
                    }
                }
                let body: Value = json!({
                    "messaging_product": "whatsapp",
                    "contacts": [{"input": "demo", "wa_id": "demo"}],
                    "messages": [{"id": format!("wamid.demo{id}")}],
                    "recipient_id": "demo",
                    "message_id": format!("m_demo{id}"),
                });
                let body = body.to_string();
                let reply = format!(
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = sock.write_all(reply.as_bytes()).await;
            });
        }
    });
    Ok(format!("http://{addr}"))
}
