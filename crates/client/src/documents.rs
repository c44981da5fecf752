//! The documents that hold the media: listing a docx's blocks, a spreadsheet's cells or
//! a bitable's records through their paged calls (every page), and collecting the media
//! they name with where each one sits.
//!
//! Each listing call counts against its own endpoint's quota (see [`crate::quota`]), so
//! listing does not slow the downloads that follow.

use crate::client::Client;
use crate::error::{Error, Result};
use feishu_media_proto::endpoint::{
    BITABLE_APPS, DOCX_DOCUMENTS, Endpoint, SPREADSHEETS, SPREADSHEETS_V3,
};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The kinds of document whose media can be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    Docx,
    Sheet,
    Bitable,
}

impl DocumentKind {
    /// The kind a token's prefix names (`doxcn…`/`docx…`, `shtcn…`, `bascn…`/`base…`),
    /// if it names one; newer tokens carry no prefix, and need the kind said.
    pub fn of_token(token: &str) -> Option<Self> {
        let t = token.to_ascii_lowercase();
        if t.starts_with("doxcn") || t.starts_with("docx") {
            Some(Self::Docx)
        } else if t.starts_with("shtcn") || t.starts_with("sht") {
            Some(Self::Sheet)
        } else if t.starts_with("bascn") || t.starts_with("bas") {
            Some(Self::Bitable)
        } else {
            None
        }
    }

    /// `docx`, `sheet` or `bitable`.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "docx" => Some(Self::Docx),
            "sheet" | "sheets" => Some(Self::Sheet),
            "bitable" | "base" => Some(Self::Bitable),
            _ => None,
        }
    }
}

/// Where a media sits in its document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Place {
    /// A docx image (27) or file (23) block.
    Block { block_id: String },
    /// A spreadsheet cell (`A1` style).
    Cell { sheet_id: String, cell: String },
    /// An attachment in a bitable record's field.
    Record {
        table_id: String,
        record_id: String,
        field: String,
    },
}

/// A media a document names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaRef {
    pub file_token: String,
    /// The name the listing gives, when it gives one (file blocks, attachments).
    pub name: Option<String>,
    /// The size the listing gives, when it gives one.
    pub size: Option<u64>,
    pub place: Place,
    /// The `extra` its download needs (a bitable with advanced permissions names it in
    /// the attachment's URL).
    #[serde(skip_serializing_if = "Option::is_none", default)]
    pub extra: Option<String>,
}

/// `data` of one page of a paged listing.
#[derive(Deserialize)]
struct Paged {
    #[serde(default)]
    items: Vec<Value>,
    #[serde(default)]
    has_more: bool,
    #[serde(default)]
    page_token: Option<String>,
}

/// A path segment, percent-encoded where it must be.
fn segment(s: &str) -> String {
    // RFC 3986 unreserved characters stay; everything else is escaped.
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

impl Client {
    /// Every page of a paged `GET` (or, with a body, `POST`) listing.
    async fn all_pages(
        &self,
        endpoint: Endpoint,
        path: &str,
        page_size: u32,
        body: Option<&Value>,
    ) -> Result<Vec<Value>> {
        let url = self.url(path);
        let mut items = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut query = vec![("page_size", page_size.to_string())];
            if let Some(t) = &token {
                query.push(("page_token", t.clone()));
            }
            let answer = self
                .send(
                    endpoint,
                    |http, auth| {
                        let req = match body {
                            Some(b) => http.post(&url).json(b),
                            None => http.get(&url),
                        };
                        req.header("Authorization", auth).query(&query)
                    },
                    &[],
                )
                .await?;
            let page: Paged = Self::json_data(answer).await?;
            items.extend(page.items);
            match (page.has_more, page.page_token) {
                (true, Some(next)) if Some(&next) != token.as_ref() => token = Some(next),
                (true, _) => {
                    return Err(Error::Inconsistent(
                        "a listing said it has more but gave no new page token".into(),
                    ));
                }
                (false, _) => return Ok(items),
            }
        }
    }

    /// Every block of a docx, the page block first, as the API answers them.
    pub async fn docx_blocks(&self, document_id: &str) -> Result<Vec<Value>> {
        let path = format!("{DOCX_DOCUMENTS}{}/blocks", segment(document_id));
        self.all_pages(Endpoint::DocxBlocks, &path, 500, None).await
    }

    /// The media a document holds, in document order, each with its place. A media in
    /// two places is listed twice.
    pub async fn document_media(&self, kind: DocumentKind, token: &str) -> Result<Vec<MediaRef>> {
        match kind {
            DocumentKind::Docx => Ok(docx_media(&self.docx_blocks(token).await?)),
            DocumentKind::Sheet => self.sheet_media(token).await,
            DocumentKind::Bitable => self.bitable_media(token).await,
        }
    }

    async fn sheet_media(&self, token: &str) -> Result<Vec<MediaRef>> {
        let path = format!("{SPREADSHEETS_V3}{}/sheets/query", segment(token));
        let url = self.url(&path);
        let answer = self
            .send(
                Endpoint::SheetsQuery,
                |http, auth| http.get(&url).header("Authorization", auth),
                &[],
            )
            .await?;
        let data: Value = Self::json_data(answer).await?;
        let mut out = Vec::new();
        for sheet in data["sheets"].as_array().into_iter().flatten() {
            let Some(sheet_id) = sheet["sheet_id"].as_str() else {
                continue;
            };
            let path = format!("{SPREADSHEETS}{}/values_batch_get", segment(token));
            let url = self.url(&path);
            let answer = self
                .send(
                    Endpoint::SheetValues,
                    |http, auth| {
                        http.get(&url)
                            .header("Authorization", auth)
                            .query(&[("ranges", sheet_id)])
                    },
                    &[],
                )
                .await?;
            let data: Value = Self::json_data(answer).await?;
            for range in data["valueRanges"].as_array().into_iter().flatten() {
                out.extend(cells_media(sheet_id, range));
            }
        }
        Ok(out)
    }

    async fn bitable_media(&self, app_token: &str) -> Result<Vec<MediaRef>> {
        let path = format!("{BITABLE_APPS}{}/tables", segment(app_token));
        let tables = self
            .all_pages(Endpoint::BitableTables, &path, 100, None)
            .await?;
        let mut out = Vec::new();
        for table in &tables {
            let Some(table_id) = table["table_id"].as_str() else {
                continue;
            };
            let path = format!(
                "{BITABLE_APPS}{}/tables/{}/records/search",
                segment(app_token),
                segment(table_id)
            );
            let records = self
                .all_pages(
                    Endpoint::BitableSearch,
                    &path,
                    500,
                    Some(&Value::Object(Default::default())),
                )
                .await?;
            for r in &records {
                out.extend(record_media(table_id, r));
            }
        }
        Ok(out)
    }
}

/// The media of a docx's blocks: image blocks (27) and file blocks (23).
fn docx_media(blocks: &[Value]) -> Vec<MediaRef> {
    blocks
        .iter()
        .filter_map(|b| {
            let (token, name) = match b["block_type"].as_u64()? {
                27 => (b["image"]["token"].as_str()?, None),
                23 => (b["file"]["token"].as_str()?, b["file"]["name"].as_str()),
                _ => return None,
            };
            Some(MediaRef {
                file_token: token.to_owned(),
                name: name.filter(|n| !n.is_empty()).map(str::to_owned),
                size: None,
                place: Place::Block {
                    block_id: b["block_id"].as_str().unwrap_or_default().to_owned(),
                },
                extra: None,
            })
        })
        .collect()
}

/// The attachment and embedded-image cells of one `valueRanges` entry.
fn cells_media(sheet_id: &str, range: &Value) -> Vec<MediaRef> {
    // The range's first cell, from `sheetId!A1:C3`.
    let start = range["range"]
        .as_str()
        .and_then(|r| r.split_once('!'))
        .map(|(_, cells)| cells.split(':').next().unwrap_or("A1"))
        .unwrap_or("A1");
    let (col0, row0) = split_address(start).unwrap_or((1, 1));
    let mut out = Vec::new();
    for (r, row) in range["values"].as_array().into_iter().flatten().enumerate() {
        for (c, cell) in row.as_array().into_iter().flatten().enumerate() {
            let Some(token) = cell["fileToken"].as_str() else {
                continue;
            };
            let name = cell["text"].as_str().filter(|t| !t.is_empty());
            out.push(MediaRef {
                file_token: token.to_owned(),
                name: (cell["type"] == "attachment")
                    .then_some(name)
                    .flatten()
                    .map(str::to_owned),
                size: cell["size"].as_u64().filter(|s| *s > 0),
                place: Place::Cell {
                    sheet_id: sheet_id.to_owned(),
                    cell: format!("{}{}", column_name(col0 + c as u32), row0 + r as u32),
                },
                extra: None,
            });
        }
    }
    out
}

/// The attachments of one record (`{record_id, fields}`).
fn record_media(table_id: &str, record: &Value) -> Vec<MediaRef> {
    let record_id = record["record_id"].as_str().unwrap_or_default();
    let mut out = Vec::new();
    for (field, value) in record["fields"].as_object().into_iter().flatten() {
        for att in value.as_array().into_iter().flatten() {
            let Some(token) = att["file_token"].as_str() else {
                continue;
            };
            out.push(MediaRef {
                file_token: token.to_owned(),
                name: att["name"].as_str().map(str::to_owned),
                size: att["size"].as_u64(),
                place: Place::Record {
                    table_id: table_id.to_owned(),
                    record_id: record_id.to_owned(),
                    field: field.clone(),
                },
                extra: att["url"].as_str().and_then(extra_of),
            });
        }
    }
    out
}

/// The `extra` query parameter of a URL, decoded.
fn extra_of(url: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    query.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=')?;
        (k == "extra").then(|| percent_decode(v))
    })
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok())
            .and_then(|h| u8::from_str_radix(h, 16).ok());
        match (bytes[i], hex) {
            (b'%', Some(b)) => {
                out.push(b);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (b, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `B2` → (2, 2).
fn split_address(a: &str) -> Option<(u32, u32)> {
    let split = a.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = a.split_at(split);
    let col = letters.bytes().try_fold(0u32, |n, b| {
        b.is_ascii_alphabetic()
            .then(|| n * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1))
    })?;
    Some((col, digits.parse().ok()?))
}

fn column_name(mut col: u32) -> String {
    let mut out = Vec::new();
    while col > 0 {
        out.push(b'A' + ((col - 1) % 26) as u8);
        col = (col - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_from_prefixes() {
        assert_eq!(DocumentKind::of_token("doxcnAbc"), Some(DocumentKind::Docx));
        assert_eq!(
            DocumentKind::of_token("shtcnAbc"),
            Some(DocumentKind::Sheet)
        );
        assert_eq!(
            DocumentKind::of_token("bascnAbc"),
            Some(DocumentKind::Bitable)
        );
        assert_eq!(DocumentKind::of_token("XyZ123"), None);
    }

    #[test]
    fn extra_is_read_from_an_attachment_url() {
        let url = "http://h/open-apis/drive/v1/medias/box/download?extra=%7B%22a%22%3A1%7D";
        assert_eq!(extra_of(url).as_deref(), Some(r#"{"a":1}"#));
        assert_eq!(extra_of("http://h/x"), None);
        assert_eq!(percent_decode("%zz%4"), "%zz%4");
    }

    #[test]
    fn cells_are_named_from_the_ranges_start() {
        let range = serde_json::json!({"range": "s1!B2:C3", "values": [
            [null, {"type": "attachment", "fileToken": "boxA", "text": "a.txt", "size": 3}],
            [{"type": "embed-image", "fileToken": "boxI", "text": ""}, "x"]]});
        let got = cells_media("s1", &range);
        assert_eq!(got.len(), 2);
        assert_eq!(
            got[0].place,
            Place::Cell {
                sheet_id: "s1".into(),
                cell: "C2".into()
            }
        );
        assert_eq!(got[0].name.as_deref(), Some("a.txt"));
        assert_eq!(
            got[1].place,
            Place::Cell {
                sheet_id: "s1".into(),
                cell: "B3".into()
            }
        );
        assert_eq!(got[1].name, None);
        assert_eq!(column_name(27), "AA");
    }
}
