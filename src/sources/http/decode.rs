//! Typed decoding of API objects that says which object and which field is wrong: a newer API
//! version's unknown enum value or a missing field becomes `subscription sub_123: field
//! items.data[0].price.recurring.interval: unknown variant ...`, an [`InputError`] among the
//! others of the page, never a panic and never a whole sync lost to a message without a place.

use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::sources::InputError;

/// Decodes one API object of `kind` ("subscription", "company"), naming it by its `id` field
/// (a string or a number; `(no id)` when absent) and the failing field in the error.
pub fn decode_object<T: DeserializeOwned>(kind: &str, value: Value) -> Result<T, InputError> {
    let id = object_id(&value);
    serde_path_to_error::deserialize::<_, T>(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let (column, message) = place(path, message);
        InputError {
            file: format!("{kind} {id}"),
            line: 0,
            column,
            message,
        }
    })
}

/// Decodes every object of a page; `Ok` only when all decoded, otherwise every object's error.
pub fn decode_all<T: DeserializeOwned>(
    kind: &str,
    values: Vec<Value>,
) -> Result<Vec<T>, Vec<InputError>> {
    let mut decoded = Vec::with_capacity(values.len());
    let mut errors = Vec::new();
    for value in values {
        match decode_object(kind, value) {
            Ok(v) => decoded.push(v),
            Err(e) => errors.push(e),
        }
    }
    if errors.is_empty() {
        Ok(decoded)
    } else {
        Err(errors)
    }
}

/// The object's `id` as shown in errors.
fn object_id(value: &Value) -> String {
    match value.get("id") {
        Some(Value::String(s)) if !s.is_empty() => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        _ => "(no id)".to_string(),
    }
}

/// The field an error is about and what is wrong with it. serde reports a missing field at its
/// parent (`missing field `price``): the field's own path reads better (`field
/// items.data[0].price: is missing`). The whole object (`.`) is no field.
fn place(path: String, message: String) -> (Option<String>, String) {
    let missing = message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.strip_suffix('`'))
        .map(str::to_string);
    match missing {
        Some(field) if path == "." => (Some(field), "is missing".to_string()),
        Some(field) => (Some(format!("{path}.{field}")), "is missing".to_string()),
        None if path == "." || path.is_empty() => (None, message),
        None => (Some(path), message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Sub {
        id: String,
        items: Items,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Items {
        data: Vec<Item>,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Item {
        quantity: u64,
        price: Price,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Price {
        unit_amount: i64,
    }

    #[test]
    fn names_the_object_and_the_field() {
        let e = decode_object::<Sub>(
            "subscription",
            json!({"id": "sub_1", "items": {"data": [{"quantity": 1, "price": {"unit_amount": "12"}}]}}),
        )
        .unwrap_err();
        assert_eq!(e.file, "subscription sub_1");
        assert_eq!(e.line, 0);
        assert_eq!(e.column.as_deref(), Some("items.data[0].price.unit_amount"));
        assert!(
            e.message.starts_with("invalid type: string \"12\""),
            "{}",
            e.message
        );
    }

    #[test]
    fn a_missing_field_is_named_itself() {
        let e = decode_object::<Sub>(
            "subscription",
            json!({"id": "sub_1", "items": {"data": [{"quantity": 1}]}}),
        )
        .unwrap_err();
        assert_eq!(e.column.as_deref(), Some("items.data[0].price"));
        assert_eq!(e.message, "is missing");
        assert_eq!(
            e.to_string(),
            "subscription sub_1: field items.data[0].price: is missing"
        );
        let e = decode_object::<Sub>("subscription", json!({"id": 42, "items": {"data": []}}))
            .unwrap_err();
        assert_eq!(e.file, "subscription 42");
        assert_eq!(e.column.as_deref(), Some("id"));
        let e = decode_object::<Sub>("subscription", json!({"items": {"data": []}})).unwrap_err();
        assert_eq!(e.file, "subscription (no id)");
        assert_eq!(e.column.as_deref(), Some("id"));
        let e = decode_object::<Sub>("subscription", json!("sub_1")).unwrap_err();
        assert_eq!(e.column, None);
    }

    #[test]
    fn decode_all_collects_every_error() {
        let ok = json!({"id": "sub_1", "items": {"data": []}});
        let values = vec![
            ok.clone(),
            json!({"id": "sub_2"}),
            ok,
            json!({"id": "sub_4", "items": 3}),
        ];
        let errors = decode_all::<Sub>("subscription", values).unwrap_err();
        let files: Vec<&str> = errors.iter().map(|e| e.file.as_str()).collect();
        assert_eq!(files, ["subscription sub_2", "subscription sub_4"]);
        let all = decode_all::<Sub>(
            "subscription",
            vec![json!({"id": "a", "items": {"data": []}})],
        );
        assert_eq!(all.unwrap().len(), 1);
    }
}
