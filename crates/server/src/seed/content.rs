//! A document's declared content (`blocks`, `sheets`, `tables`), checked against the
//! manifest's rules ("Document content, drive files and OAuth clients") and turned into
//! the store's [`Content`].

use super::manifest::{BlockSpec, DocumentSpec, SheetSpec, TableSpec};
use super::{SeedError, unique};
use crate::services::documents::sheets::Address;
use feishu_media_store::{
    Block, BlockKind, Cell, Content, DocType, Field, FieldKind, Record, Sheet, Table,
};
use std::collections::{HashMap, HashSet};

/// Where each media token named anywhere lives: `file_token → document token`.
pub type MediaHomes = HashMap<String, String>;

/// The tokens `d`'s content names, for the caller to look up before [`content`].
pub fn named_tokens(d: &DocumentSpec) -> Vec<String> {
    let mut out = Vec::new();
    for b in d.blocks.iter().flatten() {
        out.extend(b.file_token.clone());
    }
    for s in d.sheets.iter().flatten() {
        for v in s.cells.values() {
            if let Some(t) = ["attachment", "image"]
                .iter()
                .find_map(|k| v.get(k).and_then(|t| t.as_str()))
            {
                out.push(t.to_owned());
            }
        }
    }
    for t in d.tables.iter().flatten() {
        for r in &t.records {
            for v in r.fields.values() {
                out.extend(
                    v.as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|t| t.as_str().map(str::to_owned)),
                );
            }
        }
    }
    out
}

/// The content of document `i` of the manifest, of type `doc_type`.
pub fn content(
    i: usize,
    d: &DocumentSpec,
    doc_type: DocType,
    homes: &MediaHomes,
) -> Result<Content, SeedError> {
    let p = |k: &str| format!("documents[{i}].{k}");
    let only = |key: &str, present: bool, kind: DocType| {
        if present && doc_type != kind {
            Err(SeedError::at(
                p(key),
                format!("only a {} has {key}", kind.as_str()),
            ))
        } else {
            Ok(())
        }
    };
    only("blocks", d.blocks.is_some(), DocType::Docx)?;
    only("sheets", d.sheets.is_some(), DocType::Sheet)?;
    only("tables", d.tables.is_some(), DocType::Bitable)?;
    let in_this = |path: String, token: &str| -> Result<(), SeedError> {
        match homes.get(token) {
            Some(home) if home == &d.token => Ok(()),
            Some(home) => Err(SeedError::at(
                path,
                format!("media {token:?} belongs to {home:?}, not to this document"),
            )),
            None => Err(SeedError::at(path, format!("no media {token:?}"))),
        }
    };
    let mut content = Content {
        title: d.title.clone(),
        ..Default::default()
    };
    let mut ids = HashSet::new();
    for (j, b) in d.blocks.iter().flatten().enumerate() {
        let bp = |k: &str| format!("documents[{i}].blocks[{j}].{k}");
        super::non_empty(bp("block_id"), &b.block_id)?;
        if b.block_id == d.token {
            return Err(SeedError::at(
                bp("block_id"),
                "the page block has the document's id; give body blocks their own",
            ));
        }
        unique(&mut ids, bp("block_id"), &b.block_id, "block")?;
        content.blocks.push(block(b, &bp, &in_this)?);
    }
    let mut ids = HashSet::new();
    for (j, s) in d.sheets.iter().flatten().enumerate() {
        let sp = |k: &str| format!("documents[{i}].sheets[{j}].{k}");
        super::non_empty(sp("sheet_id"), &s.sheet_id)?;
        unique(&mut ids, sp("sheet_id"), &s.sheet_id, "sheet")?;
        content.sheets.push(sheet(s, &sp, &in_this)?);
    }
    let mut ids = HashSet::new();
    for (j, t) in d.tables.iter().flatten().enumerate() {
        let tp = |k: &str| format!("documents[{i}].tables[{j}].{k}");
        super::non_empty(tp("table_id"), &t.table_id)?;
        unique(&mut ids, tp("table_id"), &t.table_id, "table")?;
        content.tables.push(table(t, &tp, &in_this)?);
    }
    Ok(content)
}

fn block(
    b: &BlockSpec,
    bp: &dyn Fn(&str) -> String,
    in_this: &dyn Fn(String, &str) -> Result<(), SeedError>,
) -> Result<Block, SeedError> {
    let text = || {
        b.text
            .clone()
            .ok_or_else(|| SeedError::at(bp("text"), "required for a text or heading block"))
    };
    let token = || -> Result<String, SeedError> {
        let t = b.file_token.clone().ok_or_else(|| {
            SeedError::at(bp("file_token"), "required for an image or file block")
        })?;
        in_this(bp("file_token"), &t)?;
        Ok(t)
    };
    let kind = match b.block_type.as_str() {
        "text" => BlockKind::Text { text: text()? },
        "image" => BlockKind::Image {
            file_token: token()?,
            width: b.width,
            height: b.height,
        },
        "file" => BlockKind::File {
            file_token: token()?,
        },
        h => match h.strip_prefix("heading").and_then(|n| n.parse::<u8>().ok()) {
            Some(level @ 1..=9) if h.len() == "heading1".len() => BlockKind::Heading {
                level,
                text: text()?,
            },
            _ => {
                return Err(SeedError::at(
                    bp("type"),
                    format!("{h:?} is not one of text, heading1…heading9, image, file"),
                ));
            }
        },
    };
    Ok(Block {
        block_id: b.block_id.clone(),
        kind,
    })
}

fn sheet(
    s: &SheetSpec,
    sp: &dyn Fn(&str) -> String,
    in_this: &dyn Fn(String, &str) -> Result<(), SeedError>,
) -> Result<Sheet, SeedError> {
    let mut cells = std::collections::BTreeMap::new();
    for (addr, v) in &s.cells {
        let cp = format!("{}.{addr}", sp("cells"));
        if Address::parse(addr).is_none() {
            return Err(SeedError::at(
                cp,
                "not an A1-style address (a column of letters, a row from 1)",
            ));
        }
        let cell = match v {
            serde_json::Value::String(t) => Cell::Text(t.clone()),
            serde_json::Value::Number(n) => Cell::Number(n.clone()),
            serde_json::Value::Object(o) if o.len() == 1 => {
                match (o.get("attachment"), o.get("image")) {
                    (Some(serde_json::Value::String(t)), None) => {
                        in_this(format!("{cp}.attachment"), t)?;
                        Cell::Attachment {
                            attachment: t.clone(),
                        }
                    }
                    (None, Some(serde_json::Value::String(t))) => {
                        in_this(format!("{cp}.image"), t)?;
                        Cell::Image { image: t.clone() }
                    }
                    _ => return Err(cell_error(cp)),
                }
            }
            _ => return Err(cell_error(cp)),
        };
        // Keyed as written but upper case, so `b2` and `B2` are one cell.
        if cells.insert(addr.to_ascii_uppercase(), cell).is_some() {
            return Err(SeedError::at(
                sp("cells"),
                format!("{addr:?} is given twice"),
            ));
        }
    }
    Ok(Sheet {
        sheet_id: s.sheet_id.clone(),
        title: s.title.clone().unwrap_or_else(|| s.sheet_id.clone()),
        cells,
    })
}

fn cell_error(path: String) -> SeedError {
    SeedError::at(
        path,
        "a cell is a string, a number, {\"attachment\": <file_token>} or {\"image\": <file_token>}",
    )
}

fn table(
    t: &TableSpec,
    tp: &dyn Fn(&str) -> String,
    in_this: &dyn Fn(String, &str) -> Result<(), SeedError>,
) -> Result<Table, SeedError> {
    let mut fields = Vec::new();
    let (mut ids, mut names) = (HashSet::new(), HashSet::new());
    for (k, f) in t.fields.iter().enumerate() {
        let fp = |key: &str| format!("{}[{k}].{key}", tp("fields"));
        super::non_empty(fp("field_id"), &f.field_id)?;
        super::non_empty(fp("name"), &f.name)?;
        unique(&mut ids, fp("field_id"), &f.field_id, "field")?;
        unique(&mut names, fp("name"), &f.name, "field name")?;
        let kind = match f.field_type.as_str() {
            "text" => FieldKind::Text,
            "number" => FieldKind::Number,
            "attachment" => FieldKind::Attachment,
            other => {
                return Err(SeedError::at(
                    fp("type"),
                    format!("{other:?} is not one of text, number, attachment"),
                ));
            }
        };
        fields.push(Field {
            field_id: f.field_id.clone(),
            name: f.name.clone(),
            kind,
        });
    }
    let mut records = Vec::new();
    let mut ids = HashSet::new();
    for (k, r) in t.records.iter().enumerate() {
        let rp = |key: &str| format!("{}[{k}].{key}", tp("records"));
        super::non_empty(rp("record_id"), &r.record_id)?;
        unique(&mut ids, rp("record_id"), &r.record_id, "record")?;
        for (name, v) in &r.fields {
            let vp = format!("{}.{name}", rp("fields"));
            let field = fields.iter().find(|f| &f.name == name).ok_or_else(|| {
                SeedError::at(vp.clone(), format!("the table has no field {name:?}"))
            })?;
            let fits = match field.kind {
                FieldKind::Text => v.is_string(),
                FieldKind::Number => v.is_number(),
                FieldKind::Attachment => match v.as_array() {
                    Some(tokens) => {
                        for (n, tok) in tokens.iter().enumerate() {
                            let tok = tok.as_str().ok_or_else(|| {
                                SeedError::at(format!("{vp}[{n}]"), "a file token (a string)")
                            })?;
                            in_this(format!("{vp}[{n}]"), tok)?;
                        }
                        true
                    }
                    None => false,
                },
            };
            if !fits {
                return Err(SeedError::at(
                    vp,
                    "a text field holds a string, a number field a number, an attachment \
                     field a list of file tokens",
                ));
            }
        }
        records.push(Record {
            record_id: r.record_id.clone(),
            fields: r.fields.clone(),
        });
    }
    Ok(Table {
        table_id: t.table_id.clone(),
        name: t.name.clone().unwrap_or_else(|| t.table_id.clone()),
        fields,
        records,
    })
}
