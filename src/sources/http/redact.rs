//! URLs as errors and log lines show them: the path and the query, with the value of every
//! query key that looks like a credential (`api_key`, `hapikey`, `access_token`, `secret` ...)
//! replaced by `***`. Some APIs take their key in the query string, and a URL followed from a
//! `Link` header may carry a signed token.

use reqwest::Url;

/// Words that make a query key secret-looking when its lower-cased name contains one.
const SECRET_WORDS: &[&str] = &["key", "token", "secret", "password", "signature", "auth"];

/// Whether a query key or a header name looks like it carries a credential.
pub(super) fn looks_secret(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    SECRET_WORDS.iter().any(|w| lower.contains(w))
}

/// The path and query of `url` with secret-looking query values replaced by `***`, decoded
/// for reading: `/v1/customers?expand[]=data.subscriptions&api_key=***`. Text that is not a URL
/// is shown up to its query string.
pub fn redact_url(url: &str) -> String {
    match Url::parse(url) {
        Ok(u) => redact(&u),
        Err(_) => url.split(['?', '#']).next().unwrap_or("").to_string(),
    }
}

/// [`redact_url`] of a parsed URL.
pub(super) fn redact(url: &Url) -> String {
    let mut out = url.path().to_string();
    if let Some(query) = url.query() {
        let pairs: Vec<String> = form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| {
                if looks_secret(&k) {
                    format!("{k}=***")
                } else if v.is_empty() {
                    k.into_owned()
                } else {
                    format!("{k}={v}")
                }
            })
            .collect();
        if !pairs.is_empty() {
            out.push('?');
            out.push_str(&pairs.join("&"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hides_secret_query_values() {
        assert_eq!(
            redact_url("https://api.hubapi.com/crm/v3/objects/companies?hapikey=abc123&limit=100"),
            "/crm/v3/objects/companies?hapikey=***&limit=100"
        );
        assert_eq!(
            redact_url("http://127.0.0.1:8080/items?access_token=t0k&api_key=k&Secret=s&page=2"),
            "/items?access_token=***&api_key=***&Secret=***&page=2"
        );
        assert_eq!(
            redact_url("https://x.test/a?key=1&token=2&after=abc"),
            "/a?key=***&token=***&after=abc"
        );
    }

    #[test]
    fn decodes_for_reading() {
        assert_eq!(
            redact_url("https://api.stripe.com/v1/subscriptions?expand%5B%5D=data.customer&expand%5B%5D=data.discounts&status=all"),
            "/v1/subscriptions?expand[]=data.customer&expand[]=data.discounts&status=all"
        );
        assert_eq!(redact_url("https://api.stripe.com"), "/");
        assert_eq!(redact_url("https://x.test/a?"), "/a");
    }

    #[test]
    fn shows_no_query_of_a_broken_url() {
        assert_eq!(redact_url("not a url?token=abc"), "not a url");
        assert_eq!(redact_url("::?key=1#x"), "::");
    }

    #[test]
    fn secret_looking_names() {
        for name in [
            "Authorization",
            "X-Api-Key",
            "hapikey",
            "X-Auth-Token",
            "client_secret",
        ] {
            assert!(looks_secret(name), "{name}");
        }
        for name in ["Stripe-Version", "Accept", "limit", "after", "expand[]"] {
            assert!(!looks_secret(name), "{name}");
        }
    }
}
