//! The workspace's words, in Brazilian Portuguese and English; each person reads their own.

use super::*;

/// The workspace's texts, pt-BR and English.
pub(super) struct Texts {
    pub(super) lang: &'static str,
    pub(super) sign_in: &'static str,
    pub(super) email: &'static str,
    pub(super) password: &'static str,
    pub(super) wrong: &'static str,
    pub(super) throttled: &'static str,
    pub(super) stale: &'static str,
    pub(super) sign_out: &'static str,
    pub(super) inbox: &'static str,
    pub(super) empty: &'static str,
    pub(super) columns: [&'static str; 6],
    pub(super) reply: &'static str,
    pub(super) note: &'static str,
    pub(super) send: &'static str,
    pub(super) assign_me: &'static str,
    pub(super) resolve: &'static str,
    pub(super) reopen: &'static str,
    pub(super) customer: &'static str,
    pub(super) back: &'static str,
    pub(super) private_note: &'static str,
    pub(super) users: &'static str,
    pub(super) create: &'static str,
    pub(super) name: &'static str,
    pub(super) role: &'static str,
    pub(super) filters: [&'static str; 5],
    pub(super) window_closed: &'static str,
    pub(super) template: &'static str,
    pub(super) template_language: &'static str,
    pub(super) template_params: &'static str,
    pub(super) consent: &'static str,
    pub(super) merges: &'static str,
    pub(super) undo: &'static str,
    pub(super) history: &'static str,
    pub(super) other_conversations: &'static str,
    pub(super) teams: &'static str,
    pub(super) skills: &'static str,
    pub(super) members: &'static str,
    pub(super) capacity: &'static str,
    pub(super) add: &'static str,
    pub(super) remove: &'static str,
}

pub(super) const PT: Texts = Texts {
    lang: "pt-BR",
    sign_in: "Entrar",
    email: "E-mail",
    password: "Senha",
    wrong: "E-mail ou senha incorretos.",
    throttled: "Muitas tentativas. Tente de novo em 15 minutos.",
    stale: "O formulário expirou. Tente de novo.",
    sign_out: "Sair",
    inbox: "Caixa de entrada",
    empty: "Nenhuma conversa ainda.",
    columns: [
        "Canal",
        "Contato",
        "Status",
        "Responsável",
        "Última mensagem",
        "Atualizada",
    ],
    reply: "Responder",
    note: "Nota interna (o cliente não vê)",
    send: "Enviar",
    assign_me: "Assumir",
    resolve: "Resolver",
    reopen: "Reabrir",
    customer: "Cliente",
    back: "Caixa de entrada",
    private_note: "nota interna",
    users: "Usuários",
    create: "Criar",
    name: "Nome",
    role: "Papel",
    filters: ["Todas", "Minhas", "Sem responsável", "Com o bot", "Em fila"],
    window_closed: "A janela de resposta deste canal está fechada: só modelos aprovados podem ser enviados até o cliente escrever de novo.",
    template: "Modelo",
    template_language: "Idioma do modelo",
    template_params: "Parâmetros (separados por |)",
    consent: "Consentimento",
    merges: "Perfis unidos",
    undo: "Desfazer",
    history: "Histórico",
    other_conversations: "Outras conversas",
    teams: "Equipes",
    skills: "Idiomas · canais · assuntos",
    members: "Pessoas",
    capacity: "Capacidade",
    add: "Adicionar",
    remove: "Remover",
};

pub(super) const EN: Texts = Texts {
    lang: "en",
    sign_in: "Sign in",
    email: "E-mail",
    password: "Password",
    wrong: "Wrong e-mail or password.",
    throttled: "Too many attempts. Try again in 15 minutes.",
    stale: "The form expired. Please try again.",
    sign_out: "Sign out",
    inbox: "Inbox",
    empty: "No conversations yet.",
    columns: [
        "Channel",
        "Contact",
        "Status",
        "Owner",
        "Last message",
        "Updated",
    ],
    reply: "Reply",
    note: "Private note (the customer doesn't see it)",
    send: "Send",
    assign_me: "Take it",
    resolve: "Resolve",
    reopen: "Reopen",
    customer: "Customer",
    back: "Inbox",
    private_note: "private note",
    users: "Users",
    create: "Create",
    name: "Name",
    role: "Role",
    filters: ["All", "Mine", "Unassigned", "With the bot", "In a queue"],
    window_closed: "This channel's reply window is closed: only approved templates can be sent until the customer writes again.",
    template: "Template",
    template_language: "Template language",
    template_params: "Parameters (separated by |)",
    consent: "Consent",
    merges: "Merged profiles",
    undo: "Undo",
    history: "History",
    other_conversations: "Other conversations",
    teams: "Teams",
    skills: "Languages · channels · topics",
    members: "People",
    capacity: "Capacity",
    add: "Add",
    remove: "Remove",
};

pub(super) fn texts_for(lang: &str) -> &'static Texts {
    if lang.to_ascii_lowercase().starts_with("pt") {
        &PT
    } else {
        &EN
    }
}

/// Portuguese unless the browser prefers another language first.
pub(super) fn browser_texts(headers: &HeaderMap) -> &'static Texts {
    let accept = headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("pt-BR");
    texts_for(accept.split(',').next().unwrap_or("pt-BR").trim())
}
