//! Reading `application/x-www-form-urlencoded` bodies (Slack's slash commands and interactivity
//! requests) from the raw bytes that were verified, so nothing is decoded before the signature
//! is checked. A malformed body is an error, never a panic.

/// The body is not a URL-encoded form of UTF-8 text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the body is not a URL-encoded form: {0}")]
pub struct FormError(String);

/// The form's fields, in order (`+` is a space, `%XX` a byte; bytes that are not UTF-8 read as
/// U+FFFD). A body that is not UTF-8 text, or a `%` not followed by two hex digits, is refused:
/// Slack never sends either, so such a body was not made by Slack.
pub fn decode(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let text = std::str::from_utf8(body).map_err(|_| FormError("it is not UTF-8 text".into()))?;
    if let Some(at) = bad_escape(text) {
        let near: String = text[at..].chars().take(6).collect();
        return Err(FormError(format!("a bad escape at \"{near}\"")));
    }
    Ok(form_urlencoded::parse(body).into_owned().collect())
}

/// The byte offset of the first `%` not followed by two hex digits.
fn bad_escape(text: &str) -> Option<usize> {
    let bytes = text.as_bytes();
    (0..bytes.len()).find(|&i| {
        bytes[i] == b'%'
            && !bytes
                .get(i + 1..i + 3)
                .is_some_and(|h| h.iter().all(u8::is_ascii_hexdigit))
    })
}

/// The first value of field `name`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_plus_and_escapes() {
        let fields = decode(b"text=kpi+nrr+segment%3D%22Mid+Market%22&user_id=U1&x").unwrap();
        assert_eq!(
            field(&fields, "text"),
            Some("kpi nrr segment=\"Mid Market\"")
        );
        assert_eq!(field(&fields, "user_id"), Some("U1"));
        assert_eq!(field(&fields, "x"), Some(""));
        assert_eq!(decode(b"a=%C3%A9").unwrap()[0].1, "é");
    }

    #[test]
    fn refuses_bad_escapes_and_bytes() {
        assert!(decode(b"a=%zz").is_err());
        assert!(decode(b"a=%4").is_err());
        assert!(decode(&[0xff, b'=']).is_err());
    }
}
