//! Reading `application/x-www-form-urlencoded` bodies (Slack's slash commands and interactivity
//! requests) from the raw bytes that were verified, so nothing is decoded before the signature
//! is checked. A malformed body is an error, never a panic.

/// The body is not a URL-encoded form of UTF-8 text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the body is not a URL-encoded form: {0}")]
pub struct FormError(String);

/// The form's fields, in order (`+` is a space, `%XX` a byte).
pub fn decode(body: &[u8]) -> Result<Vec<(String, String)>, FormError> {
    let text = std::str::from_utf8(body).map_err(|_| FormError("it is not UTF-8 text".into()))?;
    text.split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
            Ok((unescape(key)?, unescape(value)?))
        })
        .collect()
}

/// The first value of field `name`.
pub fn field<'a>(fields: &'a [(String, String)], name: &str) -> Option<&'a str> {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

fn unescape(text: &str) -> Result<String, FormError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| FormError(format!("a bad escape at \"{}\"", tail(text, i))))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| FormError("an escape is not UTF-8".into()))
}

fn tail(text: &str, from: usize) -> String {
    text.get(from..)
        .unwrap_or_default()
        .chars()
        .take(6)
        .collect()
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
        assert!(decode(b"a=%ff").is_err());
        assert!(decode(&[0xff, b'=']).is_err());
    }
}
