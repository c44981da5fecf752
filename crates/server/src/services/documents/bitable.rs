//! A bitable's records as `records/search` answers them (§9): declared tables with the
//! media placed in them (`media.bitable`) added to their attachment fields, creating
//! the table, field or record a media names when the document does not declare it.

use feishu_media_store::{Document, Field, FieldKind, Media, Record, Table};
use serde::Deserialize;
use serde_json::{Value, json};

/// The ids and names of `doc`'s tables: the declared ones in order, then those only
/// media name, in the order their first media came.
pub fn tables(doc: &Document, media: &[Media]) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = doc
        .content
        .tables
        .iter()
        .map(|t| (t.table_id.clone(), t.name.clone()))
        .collect();
    for m in media.iter().filter(|m| !m.deleted) {
        if let Some(at) = &m.bitable
            && !out.iter().any(|(id, _)| id == &at.table_id)
        {
            out.push((at.table_id.clone(), at.table_id.clone()));
        }
    }
    out
}

/// The table `table_id` of `doc` with its media placed, or `None`.
pub fn table(doc: &Document, media: &[Media], table_id: &str) -> Option<(Table, Vec<Placed>)> {
    let declared = doc.content.tables.iter().find(|t| t.table_id == table_id);
    let placed: Vec<&Media> = media
        .iter()
        .filter(|m| !m.deleted && m.bitable.as_ref().is_some_and(|b| b.table_id == table_id))
        .collect();
    if declared.is_none() && placed.is_empty() {
        return None;
    }
    let mut t = declared.cloned().unwrap_or_else(|| Table {
        table_id: table_id.to_owned(),
        name: table_id.to_owned(),
        fields: Vec::new(),
        records: Vec::new(),
    });
    let mut attachments = Vec::new();
    for m in placed {
        let at = m.bitable.as_ref().expect("filtered");
        let field = match t.fields.iter().find(|f| f.field_id == at.field_id) {
            Some(f) => f.name.clone(),
            None => {
                t.fields.push(Field {
                    field_id: at.field_id.clone(),
                    name: at.field_id.clone(),
                    kind: FieldKind::Attachment,
                });
                at.field_id.clone()
            }
        };
        if !t.records.iter().any(|r| r.record_id == at.record_id) {
            t.records.push(Record {
                record_id: at.record_id.clone(),
                fields: Default::default(),
            });
        }
        attachments.push(Placed {
            record_id: at.record_id.clone(),
            field,
            media: m.clone(),
        });
    }
    // Attachments a record declares by token, unless a media placed itself there too.
    for r in &t.records {
        for f in t.fields.iter().filter(|f| f.kind == FieldKind::Attachment) {
            let tokens = r.fields.get(&f.name).and_then(Value::as_array);
            for token in tokens.into_iter().flatten().filter_map(Value::as_str) {
                let Some(m) = media.iter().find(|m| m.file_token == token && !m.deleted) else {
                    continue;
                };
                let here = |p: &Placed| p.record_id == r.record_id && p.media.file_token == token;
                if !attachments.iter().any(here) {
                    attachments.push(Placed {
                        record_id: r.record_id.clone(),
                        field: f.name.clone(),
                        media: m.clone(),
                    });
                }
            }
        }
    }
    Some((t, attachments))
}

/// A media in a record's attachment field.
#[derive(Debug, Clone)]
pub struct Placed {
    pub record_id: String,
    /// The field's name.
    pub field: String,
    pub media: Media,
}

/// The body of `records/search`; every key optional [doc]. Unknown keys are ignored.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Search {
    #[serde(default)]
    pub view_id: Option<String>,
    #[serde(default)]
    pub field_names: Option<Vec<String>>,
    #[serde(default)]
    pub sort: Vec<Sort>,
    #[serde(default)]
    pub filter: Option<Filter>,
    #[serde(default)]
    pub automatic_fields: Option<bool>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Sort {
    pub field_name: String,
    #[serde(default)]
    pub desc: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Filter {
    #[serde(default = "and")]
    pub conjunction: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
}

fn and() -> String {
    "and".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct Condition {
    pub field_name: String,
    pub operator: String,
    #[serde(default)]
    pub value: Vec<Value>,
}

/// Why a search was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SearchError {
    /// `field_names` or `sort` names no field.
    NoField(String),
    /// The filter does not make sense.
    BadFilter(String),
}

/// How a record's values are read and written: what the answer holds per field.
pub struct Records<'a> {
    pub table: &'a Table,
    pub placed: &'a [Placed],
    /// `<public url>` for attachment `url` and `tmp_url`.
    pub base: &'a str,
    /// `Some(rev)` when the bitable has advanced permissions: the URLs carry `extra`.
    pub extra_rev: Option<u64>,
}

impl Records<'_> {
    /// The records matching `search`, sorted, each as `{record_id, fields}`.
    pub fn search(&self, search: &Search) -> Result<Vec<Value>, SearchError> {
        let field = |name: &str| self.table.fields.iter().find(|f| f.name == name);
        for n in search.field_names.iter().flatten() {
            if field(n).is_none() {
                return Err(SearchError::NoField(n.clone()));
            }
        }
        for s in &search.sort {
            if field(&s.field_name).is_none() {
                return Err(SearchError::NoField(s.field_name.clone()));
            }
        }
        let mut rows: Vec<&Record> = Vec::new();
        for r in &self.table.records {
            if self.matches(r, search.filter.as_ref())? {
                rows.push(r);
            }
        }
        for s in search.sort.iter().rev() {
            let f = field(&s.field_name).expect("checked");
            rows.sort_by(|a, b| {
                let o = sort_key(&self.value(a, f)).cmp(&sort_key(&self.value(b, f)));
                if s.desc { o.reverse() } else { o }
            });
        }
        Ok(rows
            .into_iter()
            .map(|r| {
                let mut fields = serde_json::Map::new();
                for f in &self.table.fields {
                    let wanted = search
                        .field_names
                        .as_ref()
                        .is_none_or(|names| names.contains(&f.name));
                    let v = self.value(r, f);
                    if wanted && !v.is_null() {
                        fields.insert(f.name.clone(), v);
                    }
                }
                json!({"record_id": r.record_id, "fields": fields})
            })
            .collect())
    }

    /// A record's value of field `f` as the answer writes it (`null`: empty).
    fn value(&self, r: &Record, f: &Field) -> Value {
        match f.kind {
            FieldKind::Attachment => {
                let list: Vec<Value> = self
                    .placed
                    .iter()
                    .filter(|p| p.record_id == r.record_id && p.field == f.name)
                    .map(|p| self.attachment(&p.media))
                    .collect();
                if list.is_empty() {
                    Value::Null
                } else {
                    Value::Array(list)
                }
            }
            // Search answers text as rich-text segments [seen].
            FieldKind::Text => match r.fields.get(&f.name) {
                Some(Value::String(s)) => json!([{"text": s, "type": "text"}]),
                _ => Value::Null,
            },
            FieldKind::Number => r.fields.get(&f.name).cloned().unwrap_or(Value::Null),
        }
    }

    fn attachment(&self, m: &Media) -> Value {
        let extra = self
            .extra_rev
            .map(|rev| {
                let e = json!({"bitablePerm": {"tableId": self.table.table_id, "rev": rev}});
                format!("&extra={}", urlencode(&e.to_string()))
            })
            .unwrap_or_default();
        let token = &m.file_token;
        let base = self.base;
        let url = format!(
            "{base}{}",
            feishu_media_proto::endpoint::download_path(token)
        );
        // The download URL has no query of its own, so `extra` starts it.
        let url = match extra.strip_prefix('&') {
            Some(e) => format!("{url}?{e}"),
            None => url,
        };
        json!({
            "file_token": token,
            "name": m.file_name,
            "size": m.size,
            "type": m.mime_type,
            "url": url,
            "tmp_url": format!(
                "{base}{}?file_tokens={}{extra}",
                feishu_media_proto::endpoint::BATCH_GET_TMP_DOWNLOAD_URL,
                urlencode(token)
            ),
        })
    }

    fn matches(&self, r: &Record, filter: Option<&Filter>) -> Result<bool, SearchError> {
        let Some(filter) = filter else {
            return Ok(true);
        };
        let all = match filter.conjunction.as_str() {
            "and" => true,
            "or" => false,
            other => {
                return Err(SearchError::BadFilter(format!(
                    "conjunction {other:?} is neither and nor or"
                )));
            }
        };
        let mut result = all;
        for c in &filter.conditions {
            let f = self
                .table
                .fields
                .iter()
                .find(|f| f.name == c.field_name)
                .ok_or_else(|| SearchError::BadFilter(format!("no field {:?}", c.field_name)))?;
            let hit = condition(f, &self.value(r, f), c)?;
            if all { result &= hit } else { result |= hit }
        }
        Ok(result)
    }
}

/// Whether `value` (as answered) meets condition `c`.
fn condition(f: &Field, value: &Value, c: &Condition) -> Result<bool, SearchError> {
    let text = match (f.kind, value) {
        (FieldKind::Text, Value::Array(segments)) => Some(
            segments
                .iter()
                .filter_map(|s| s["text"].as_str())
                .collect::<String>(),
        ),
        (FieldKind::Number, Value::Number(n)) => Some(n.to_string()),
        _ => None,
    };
    let arg = || -> Result<String, SearchError> {
        match c.value.first() {
            Some(Value::String(s)) => Ok(s.clone()),
            Some(Value::Number(n)) => Ok(n.to_string()),
            _ => Err(SearchError::BadFilter(format!(
                "{} needs a value for {:?}",
                c.operator, c.field_name
            ))),
        }
    };
    let number = |s: &str| s.parse::<f64>().ok();
    let compare = |want: std::cmp::Ordering| -> Result<bool, SearchError> {
        if f.kind != FieldKind::Number {
            return Err(SearchError::BadFilter(format!(
                "{} applies to number fields only",
                c.operator
            )));
        }
        let a = arg()?;
        let b =
            number(&a).ok_or_else(|| SearchError::BadFilter(format!("{a:?} is not a number")))?;
        Ok(text
            .as_deref()
            .and_then(number)
            .and_then(|v| v.partial_cmp(&b))
            == Some(want))
    };
    let textual = || -> Result<(), SearchError> {
        if f.kind == FieldKind::Attachment {
            Err(SearchError::BadFilter(format!(
                "{} does not apply to attachment fields (isEmpty and isNotEmpty do)",
                c.operator
            )))
        } else {
            Ok(())
        }
    };
    Ok(match c.operator.as_str() {
        "isEmpty" => value.is_null(),
        "isNotEmpty" => !value.is_null(),
        "is" => {
            textual()?;
            let a = arg()?;
            match f.kind {
                FieldKind::Number => text.as_deref().and_then(number) == number(&a),
                _ => text.as_deref() == Some(a.as_str()),
            }
        }
        "isNot" => {
            textual()?;
            let a = arg()?;
            text.as_deref() != Some(a.as_str())
        }
        "contains" => {
            textual()?;
            text.as_deref()
                .is_some_and(|t| t.contains(arg().as_deref().unwrap_or("")))
        }
        "doesNotContain" => {
            textual()?;
            let a = arg()?;
            !text.as_deref().is_some_and(|t| t.contains(&a))
        }
        "isGreater" => compare(std::cmp::Ordering::Greater)?,
        "isLess" => compare(std::cmp::Ordering::Less)?,
        other => {
            return Err(SearchError::BadFilter(format!(
                "operator {other:?}: use is, isNot, contains, doesNotContain, isEmpty, \
                 isNotEmpty, isGreater or isLess"
            )));
        }
    })
}

/// Orders values: empties first, then numbers, then text.
fn sort_key(v: &Value) -> (u8, i128, String) {
    match v {
        Value::Null => (0, 0, String::new()),
        Value::Number(n) => (1, (n.as_f64().unwrap_or(0.0) * 1e6) as i128, String::new()),
        Value::Array(a) => (
            2,
            0,
            a.iter()
                .map(|s| s["text"].as_str().or(s["name"].as_str()).unwrap_or(""))
                .collect(),
        ),
        other => (3, 0, other.to_string()),
    }
}

fn urlencode(s: &str) -> String {
    percent_encoding::utf8_percent_encode(s, percent_encoding::NON_ALPHANUMERIC).to_string()
}
