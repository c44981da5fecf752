//! A docx's blocks as `GET …/documents/{id}/blocks` lists them [doc]: the page block
//! first (its id the document's), then the body in order. Media placed in the document
//! whose `parent_node` names no declared block (and that no declared block shows) are
//! appended as image or file blocks of that id, or of `blk<file_token>` when they name
//! none (the latest media of an id wins, as a replaced image does).

use feishu_media_store::{Block, BlockKind, Document, Media, ParentType};
use serde_json::{Value, json};
use std::collections::HashMap;

/// Feishu's `block_type` numbers.
const PAGE: u32 = 1;
const TEXT: u32 = 2;
const FILE: u32 = 23;
const IMAGE: u32 = 27;

/// Every block of `doc`, the page block first; `media` are the document's media.
pub fn blocks(doc: &Document, media: &[Media]) -> Vec<Value> {
    let by_token: HashMap<&str, &Media> =
        media.iter().map(|m| (m.file_token.as_str(), m)).collect();
    let mut body: Vec<Block> = doc.content.blocks.clone();
    let declared: Vec<String> = body.iter().map(|b| b.block_id.clone()).collect();
    let shown: Vec<&str> = body
        .iter()
        .filter_map(|b| match &b.kind {
            BlockKind::Image { file_token, .. } | BlockKind::File { file_token } => {
                Some(file_token.as_str())
            }
            _ => None,
        })
        .collect();
    let mut appended: Vec<Block> = Vec::new();
    // A media a declared block already shows is not shown twice.
    for m in media
        .iter()
        .filter(|m| !m.deleted && !shown.contains(&m.file_token.as_str()))
    {
        let id = m
            .parent_node
            .clone()
            .unwrap_or_else(|| format!("blk{}", m.file_token));
        if declared.contains(&id) {
            continue;
        }
        let kind = match m.parent_type {
            ParentType::DocxImage => BlockKind::Image {
                file_token: m.file_token.clone(),
                width: None,
                height: None,
            },
            ParentType::DocxFile => BlockKind::File {
                file_token: m.file_token.clone(),
            },
            _ => continue,
        };
        appended.retain(|b| b.block_id != id);
        appended.push(Block { block_id: id, kind });
    }
    body.extend(appended);

    let title = doc.content.title.clone().unwrap_or_default();
    let mut out = Vec::with_capacity(body.len() + 1);
    out.push(json!({
        "block_id": doc.token,
        "block_type": PAGE,
        "parent_id": "",
        "children": body.iter().map(|b| b.block_id.as_str()).collect::<Vec<_>>(),
        "page": {"elements": text_elements(&title), "style": {"align": 1}},
    }));
    for b in &body {
        let mut item = json!({
            "block_id": b.block_id,
            "parent_id": doc.token,
        });
        let (block_type, key, payload) = match &b.kind {
            BlockKind::Text { text } => (
                TEXT,
                "text".to_owned(),
                json!({"elements": text_elements(text), "style": {"align": 1}}),
            ),
            BlockKind::Heading { level, text } => (
                TEXT + u32::from(*level),
                format!("heading{level}"),
                json!({"elements": text_elements(text), "style": {"align": 1}}),
            ),
            BlockKind::Image {
                file_token,
                width,
                height,
            } => (
                IMAGE,
                "image".to_owned(),
                json!({
                    "token": file_token,
                    "width": width.unwrap_or(0),
                    "height": height.unwrap_or(0),
                    "align": 2,
                }),
            ),
            BlockKind::File { file_token } => (
                FILE,
                "file".to_owned(),
                json!({
                    "token": file_token,
                    "name": by_token.get(file_token.as_str()).map(|m| m.file_name.as_str()).unwrap_or(""),
                    "view_type": 1,
                }),
            ),
        };
        item["block_type"] = json!(block_type);
        item[key] = payload;
        out.push(item);
    }
    out
}

/// The `elements` of a text-like block holding `text` as one run.
fn text_elements(text: &str) -> Value {
    if text.is_empty() {
        return json!([]);
    }
    json!([{"text_run": {"content": text, "text_element_style": {
        "bold": false, "inline_code": false, "italic": false,
        "strikethrough": false, "underline": false,
    }}}])
}

/// A block's id, for paging.
pub fn block_id(item: &Value) -> &str {
    item["block_id"].as_str().unwrap_or_default()
}
