//! Signing in and out: the form with its double-submit CSRF token, throttling, and sessions.

use super::*;

pub(super) fn login_form(t: &Texts, csrf: &str, error: Option<&str>, email: &str) -> String {
    let error = error
        .map(|e| format!("<p class=\"error\" role=\"alert\">{}</p>", esc(e)))
        .unwrap_or_default();
    shell(
        t,
        t.sign_in,
        &format!(
            "<main class=\"login\"><h1>Concierge</h1>{error}<form method=\"post\" action=\"/login\">\
             <input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
             <label>{email_l}<input type=\"email\" name=\"email\" value=\"{email}\" autocomplete=\"username\" required autofocus></label>\
             <label>{password_l}<input type=\"password\" name=\"password\" autocomplete=\"current-password\" required></label>\
             <button type=\"submit\">{sign_in}</button></form></main>",
            csrf = esc(csrf),
            email_l = t.email,
            email = esc(email),
            password_l = t.password,
            sign_in = t.sign_in,
        ),
    )
}

/// The sign-in form, with a fresh token in a cookie and in the form (double submit): another
/// site cannot sign someone in to an account of its choosing.
pub(super) async fn login_page(
    State(s): State<SharedState>,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let csrf = session::random_token()?;
    let secure = session::is_https(&s, &headers);
    let mut r = page(
        StatusCode::OK,
        login_form(browser_texts(&headers), &csrf, None, ""),
    );
    if let Ok(v) = set_cookie(LOGIN_CSRF, &csrf, "/login", 3600, secure, "Strict").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

#[derive(Deserialize)]
pub(super) struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    csrf: String,
}

/// A hash of a random password: unknown e-mails are checked against it so that they take as
/// long as known ones.
pub(super) fn decoy_hash() -> &'static str {
    static DECOY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| session::hash_password("decoy password, never used").unwrap_or_default())
}

pub(super) async fn login(
    State(s): State<SharedState>,
    axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<std::net::SocketAddr>,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Result<Response, Failure> {
    let t = browser_texts(&headers);
    let again = |status: StatusCode, error: &str, email: &str| -> Result<Response, Failure> {
        let csrf = session::random_token()?;
        let secure = session::is_https(&s, &headers);
        let mut r = page(status, login_form(t, &csrf, Some(error), email));
        if let Ok(v) = set_cookie(LOGIN_CSRF, &csrf, "/login", 3600, secure, "Strict").parse() {
            r.headers_mut().insert(header::SET_COOKIE, v);
        }
        Ok(r)
    };
    let email = f.email.trim().to_lowercase();
    let expected = cookie(&headers, LOGIN_CSRF).unwrap_or("");
    if expected.is_empty() || !session::constant_time_eq(expected, &f.csrf) {
        return again(StatusCode::FORBIDDEN, t.stale, &email);
    }
    if email.is_empty() || email.len() > 254 || f.password.len() > 1024 {
        return again(StatusCode::UNAUTHORIZED, t.wrong, &email);
    }
    let now = chrono::Utc::now().timestamp_millis();
    // Per address and e-mail, so nobody elsewhere can lock an account out; and per address, so
    // guesses spread over many e-mails are slowed too. The attempt is counted before the
    // password is checked, in one write, so parallel guesses can't all slip under the limit.
    let address = peer.ip().to_string();
    let key = format!("email:{email}|ip:{address}");
    let address_key = format!("ip:{address}");
    let since = now - THROTTLE_WINDOW_MS;
    let tries = s.store.login_failure(&key, now, since).await?;
    let address_tries = s.store.login_failures(&address_key, since).await?;
    if tries > MAX_FAILURES || address_tries >= MAX_ADDRESS_FAILURES {
        let mut r = again(StatusCode::TOO_MANY_REQUESTS, t.throttled, &email)?;
        r.headers_mut()
            .insert(header::RETRY_AFTER, header::HeaderValue::from_static("900"));
        return Ok(r);
    }
    let found = s.store.user_credentials(&email).await?;
    let hash = found
        .as_ref()
        .map(|(_, h)| h.clone())
        .unwrap_or_else(|| decoy_hash().to_string());
    let password = f.password;
    let ok = session::with_hashing(move || verify_password(&password, &hash)).await?;
    let Some((user, _)) = found.filter(|_| ok) else {
        s.store.login_failure(&address_key, now, since).await?;
        return again(StatusCode::UNAUTHORIZED, t.wrong, &email);
    };
    s.store.clear_login_failures(&key).await?;
    // A session the browser already had is replaced, not kept alongside.
    if let Some(old) = cookie(&headers, COOKIE) {
        s.store.delete_session(&token_hash(old)).await?;
    }
    let token = session::random_token()?;
    let csrf = session::random_token()?;
    s.store
        .create_session(user.id, token_hash(&token), csrf, now + SESSION_MS)
        .await?;
    let secure = session::is_https(&s, &headers);
    let mut r = Redirect::to("/app").into_response();
    let h = r.headers_mut();
    if let Ok(v) = set_cookie(COOKIE, &token, "/", SESSION_MS / 1000, secure, "Lax").parse() {
        h.append(header::SET_COOKIE, v);
    }
    if let Ok(v) = set_cookie(LOGIN_CSRF, "", "/login", 0, secure, "Strict").parse() {
        h.append(header::SET_COOKIE, v);
    }
    tracing::info!(user = user.id, "signed in");
    Ok(r)
}

pub(super) async fn logout(
    State(s): State<SharedState>,
    who: SignedIn,
    headers: HeaderMap,
    Form(f): Form<CsrfForm>,
) -> Result<Response, Failure> {
    who.check_csrf(&f.csrf)?;
    s.store.delete_session(&who.token_hash).await?;
    let secure = session::is_https(&s, &headers);
    let mut r = Redirect::to("/login").into_response();
    if let Ok(v) = set_cookie(COOKIE, "", "/", 0, secure, "Lax").parse() {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    Ok(r)
}

/// Who is signed in, and the CSRF token scripts send back as `X-CSRF-Token`.
pub(super) async fn me(who: SignedIn) -> Json<serde_json::Value> {
    Json(json!({"user": who.user, "csrf": who.csrf}))
}
