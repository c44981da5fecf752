//! The `extra` query parameter of downloads from bitables with advanced permissions.
//!
//! Documented form: `{"bitablePerm":{"tableId":"tbl…","attachments":{"<field_id>":{"<record_id>":["<file_token>"]}}}}`.
//! Seen in the wild and accepted as naming every attachment of the table:
//! `{"bitablePerm":{"tableId":"tbl…","rev":N}}` and `{"bitablePerm":{"tableId":"tbl…"}}`.

use serde::Deserialize;
use std::collections::BTreeMap;

/// `field_id → record_id → file tokens`.
pub type Attachments = BTreeMap<String, BTreeMap<String, Vec<String>>>;

/// A parsed `extra`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Extra {
    #[serde(rename = "bitablePerm")]
    pub bitable_perm: BitablePerm,
}

/// The `bitablePerm` object.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct BitablePerm {
    #[serde(rename = "tableId")]
    pub table_id: String,
    /// `None`: the older forms, naming every attachment of the table.
    #[serde(default)]
    pub attachments: Option<Attachments>,
    /// The older form's revision; read and otherwise ignored.
    #[serde(default)]
    pub rev: Option<serde_json::Value>,
}

/// Why an `extra` was refused (all answered 400 1061002).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExtraError {
    /// Not JSON of the documented shape.
    Malformed(String),
}

impl std::fmt::Display for ExtraError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ExtraError::Malformed(why) => write!(f, "extra is not a bitablePerm object: {why}"),
        }
    }
}

impl std::error::Error for ExtraError {}

impl Extra {
    /// Reads the value of the `extra` parameter, once URL-decoded (as any query parser
    /// does). A value encoded twice, as some clients send, is decoded once more \[ours\].
    pub fn parse(value: &str) -> Result<Self, ExtraError> {
        match serde_json::from_str::<Extra>(value) {
            Ok(e) => Ok(e),
            Err(first) => {
                let decoded = percent_encoding::percent_decode_str(value)
                    .decode_utf8()
                    .map_err(|_| ExtraError::Malformed(first.to_string()))?;
                if decoded == value {
                    return Err(ExtraError::Malformed(first.to_string()));
                }
                serde_json::from_str::<Extra>(&decoded)
                    .map_err(|_| ExtraError::Malformed(first.to_string()))
            }
        }
    }

    /// Whether this `extra` names the attachment `file_token` kept in
    /// `table_id` / `field_id` / `record_id`.
    pub fn names(&self, table_id: &str, field_id: &str, record_id: &str, file_token: &str) -> bool {
        let perm = &self.bitable_perm;
        if perm.table_id != table_id {
            return false;
        }
        match &perm.attachments {
            None => true,
            Some(fields) => fields
                .get(field_id)
                .and_then(|records| records.get(record_id))
                .is_some_and(|tokens| tokens.iter().any(|t| t == file_token)),
        }
    }
}

impl Extra {
    /// Whether this `extra` lists `file_token` anywhere, or is of an older form that names
    /// a whole table (for attachments whose table is not known yet).
    pub fn lists(&self, file_token: &str) -> bool {
        match &self.bitable_perm.attachments {
            None => true,
            Some(fields) => fields
                .values()
                .flat_map(|r| r.values())
                .flatten()
                .any(|t| t == file_token),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn documented_form() {
        let e = Extra::parse(
            r#"{"bitablePerm":{"tableId":"tblA","attachments":{"fldA":{"recA":["boxA","boxB"]}}}}"#,
        )
        .unwrap();
        assert!(e.names("tblA", "fldA", "recA", "boxB"));
        assert!(!e.names("tblA", "fldA", "recA", "boxC"));
        assert!(!e.names("tblA", "fldB", "recA", "boxA"));
        assert!(!e.names("tblA", "fldA", "recB", "boxA"));
        assert!(!e.names("tblB", "fldA", "recA", "boxA"));
    }

    #[test]
    fn lists_looks_everywhere() {
        let e =
            Extra::parse(r#"{"bitablePerm":{"tableId":"t","attachments":{"f":{"r":["boxA"]}}}}"#)
                .unwrap();
        assert!(e.lists("boxA"));
        assert!(!e.lists("boxB"));
        assert!(
            Extra::parse(r#"{"bitablePerm":{"tableId":"t"}}"#)
                .unwrap()
                .lists("boxB")
        );
    }

    #[test]
    fn older_forms_name_the_whole_table() {
        for v in [
            r#"{"bitablePerm":{"tableId":"tblA","rev":5}}"#,
            r#"{"bitablePerm":{"tableId":"tblA"}}"#,
        ] {
            let e = Extra::parse(v).unwrap();
            assert!(e.names("tblA", "f", "r", "anything"));
            assert!(!e.names("tblB", "f", "r", "anything"));
        }
    }

    #[test]
    fn double_encoded_is_read() {
        let e = Extra::parse("%7B%22bitablePerm%22%3A%7B%22tableId%22%3A%22tblA%22%7D%7D").unwrap();
        assert_eq!(e.bitable_perm.table_id, "tblA");
    }

    #[test]
    fn malformed() {
        for v in [
            "",
            "{",
            "null",
            "[]",
            r#"{"bitablePerm":{}}"#,
            r#"{"tableId":"tblA"}"#,
            "%zz",
            r#"{"bitablePerm":{"tableId":5}}"#,
        ] {
            assert!(Extra::parse(v).is_err(), "{v}");
        }
    }

    proptest::proptest! {
        /// The documented form, with any ids, parses to what was written, whether the
        /// query parser decoded it once or the client encoded it twice.
        #[test]
        fn any_documented_extra_parses(
            table in "[a-zA-Z0-9]{1,12}",
            field in ".{1,8}",
            record in ".{1,8}",
            tokens in proptest::collection::vec(".{0,8}", 0..3),
        ) {
            let value = serde_json::json!({"bitablePerm": {"tableId": table,
                "attachments": {field.clone(): {record.clone(): tokens.clone()}}}}).to_string();
            let twice = percent_encoding::utf8_percent_encode(&value, percent_encoding::NON_ALPHANUMERIC).to_string();
            for v in [&value, &twice] {
                let e = Extra::parse(v).unwrap();
                proptest::prop_assert_eq!(&e.bitable_perm.table_id, &table);
                for t in &tokens {
                    proptest::prop_assert!(e.names(&table, &field, &record, t));
                }
                let other_table = format!("{table}x");
                proptest::prop_assert!(!e.names(&other_table, &field, &record, "x"));
            }
        }

        #[test]
        fn parsing_anything_never_panics(v in ".{0,60}|\\{.{0,60}") {
            let _ = Extra::parse(&v);
        }
    }
}
