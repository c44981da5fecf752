//! Spreadsheet ranges in A1 notation and `values_batch_get`'s answer (§8).

use feishu_media_store::{Cell, Document, Media, Sheet};
use serde_json::{Value, json};
use std::collections::HashMap;

/// A cell's place: 1-based column and row.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address {
    pub col: u32,
    pub row: u32,
}

/// Columns past `XFD` and rows past 1 048 576 are no cell (Excel's bounds, which Feishu
/// keeps within).
const MAX_COL: u32 = 16_384;
const MAX_ROW: u32 = 1_048_576;

/// At most this many cells in one answer [ours]: a range over a sparse sheet is cut to
/// the cells in use, but their extent may still be vast.
pub const MAX_CELLS: u64 = 200_000;
/// At most this many ranges in one call [ours].
pub const MAX_RANGES: usize = 100;

impl Address {
    /// `B2`, `aa10` (letters then digits).
    pub fn parse(s: &str) -> Option<Self> {
        let split = s.find(|c: char| c.is_ascii_digit())?;
        let (letters, digits) = s.split_at(split);
        let col = column(letters)?;
        let row: u32 = digits.parse().ok().filter(|r| (1..=MAX_ROW).contains(r))?;
        (digits.bytes().all(|b| b.is_ascii_digit()) && !digits.starts_with('0'))
            .then_some(Self { col, row })
    }

    pub fn name(self) -> String {
        format!("{}{}", column_name(self.col), self.row)
    }
}

/// `A` → 1, `Z` → 26, `AA` → 27.
fn column(letters: &str) -> Option<u32> {
    if letters.is_empty() || letters.len() > 3 || !letters.bytes().all(|b| b.is_ascii_alphabetic())
    {
        return None;
    }
    let n = letters.bytes().fold(0u32, |n, b| {
        n * 26 + u32::from(b.to_ascii_uppercase() - b'A' + 1)
    });
    (n <= MAX_COL).then_some(n)
}

fn column_name(mut col: u32) -> String {
    let mut out = Vec::new();
    while col > 0 {
        let r = (col - 1) % 26;
        out.push(b'A' + r as u8);
        col = (col - 1) / 26;
    }
    out.reverse();
    String::from_utf8(out).expect("ascii")
}

/// One requested range: a sheet, and the cells within it (`None`: the sheet's used area).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Range {
    pub sheet_id: String,
    pub cells: Option<(Address, Address)>,
}

/// Why a range was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RangeError {
    /// It does not parse.
    Malformed(String),
    /// Its sheet is not in the spreadsheet.
    NoSheet(String),
    /// It covers too many cells.
    TooLarge(String),
}

impl Range {
    /// `sht1`, `sht1!A1:C3`, `sht1!B2`, `sht1!A:C` (whole columns).
    pub fn parse(s: &str) -> Result<Self, RangeError> {
        let bad = || RangeError::Malformed(s.to_owned());
        let (sheet_id, cells) = match s.split_once('!') {
            None => (s, None),
            Some((sheet, cells)) => (sheet, Some(cells)),
        };
        if sheet_id.is_empty() {
            return Err(bad());
        }
        let cells = match cells {
            None => None,
            Some(c) => {
                let (a, b) = c.split_once(':').unwrap_or((c, c));
                let (a, b) = match (Address::parse(a), Address::parse(b)) {
                    (Some(a), Some(b)) => (a, b),
                    _ => match (column(a), column(b)) {
                        (Some(ca), Some(cb)) => (
                            Address { col: ca, row: 1 },
                            Address {
                                col: cb,
                                row: MAX_ROW,
                            },
                        ),
                        _ => return Err(bad()),
                    },
                };
                let from = Address {
                    col: a.col.min(b.col),
                    row: a.row.min(b.row),
                };
                let to = Address {
                    col: a.col.max(b.col),
                    row: a.row.max(b.row),
                };
                Some((from, to))
            }
        };
        Ok(Self {
            sheet_id: sheet_id.to_owned(),
            cells,
        })
    }
}

/// How values are rendered (`valueRenderOption`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Render {
    /// Numbers as numbers (`FormattedValue`, `UnformattedValue`, `Formula`, the default).
    Values,
    /// Everything but objects as strings (`ToString`).
    Strings,
}

impl Render {
    pub fn parse(s: Option<&str>) -> Option<Self> {
        match s {
            None | Some("" | "FormattedValue" | "UnformattedValue" | "Formula") => {
                Some(Self::Values)
            }
            Some("ToString") => Some(Self::Strings),
            Some(_) => None,
        }
    }
}

/// The `valueRanges` entry for `range` in `doc`; its cell count.
pub fn value_range(
    doc: &Document,
    media: &[Media],
    range: &Range,
    render: Render,
    revision: u64,
) -> Result<(Value, u64), RangeError> {
    let sheet = doc
        .content
        .sheets
        .iter()
        .find(|s| s.sheet_id == range.sheet_id)
        .ok_or_else(|| RangeError::NoSheet(range.sheet_id.clone()))?;
    let cells: HashMap<Address, &Cell> = sheet
        .cells
        .iter()
        .filter_map(|(a, c)| Address::parse(a).map(|a| (a, c)))
        .collect();
    let used = used_extent(sheet);
    let (from, to) = match range.cells {
        Some((from, to)) => {
            // Cut to the cells in use, as Feishu answers no trailing empty rows.
            let to = Address {
                col: to.col.min(used.col.max(from.col)),
                row: to.row.min(used.row.max(from.row)),
            };
            (from, to)
        }
        None => (Address { col: 1, row: 1 }, used),
    };
    let count = u64::from(to.col - from.col + 1) * u64::from(to.row - from.row + 1);
    if count > MAX_CELLS {
        return Err(RangeError::TooLarge(format!(
            "{}!{}:{} covers {count} cells; ask for at most {MAX_CELLS} at a time",
            sheet.sheet_id,
            from.name(),
            to.name()
        )));
    }
    let by_token: HashMap<&str, &Media> =
        media.iter().map(|m| (m.file_token.as_str(), m)).collect();
    let rows: Vec<Value> = (from.row..=to.row)
        .map(|row| {
            Value::Array(
                (from.col..=to.col)
                    .map(|col| {
                        cells
                            .get(&Address { col, row })
                            .map_or(Value::Null, |c| cell(c, &by_token, render))
                    })
                    .collect(),
            )
        })
        .collect();
    let value = json!({
        "majorDimension": "ROWS",
        "range": format!("{}!{}:{}", sheet.sheet_id, from.name(), to.name()),
        "revision": revision,
        "values": rows,
    });
    Ok((value, count))
}

/// A sheet as `sheets/query` lists it: its grid is the cells in use.
pub fn sheet_info(index: usize, sheet: &Sheet) -> Value {
    let used = used_extent(sheet);
    json!({
        "sheet_id": sheet.sheet_id,
        "title": sheet.title,
        "index": index,
        "hidden": false,
        "resource_type": "sheet",
        "grid_properties": {
            "frozen_row_count": 0,
            "frozen_column_count": 0,
            "row_count": used.row,
            "column_count": used.col,
        },
    })
}

/// The bottom-right corner of the cells in use (A1 for an empty sheet).
fn used_extent(sheet: &Sheet) -> Address {
    sheet
        .cells
        .keys()
        .filter_map(|a| Address::parse(a))
        .fold(Address { col: 1, row: 1 }, |m, a| Address {
            col: m.col.max(a.col),
            row: m.row.max(a.row),
        })
}

fn cell(c: &Cell, media: &HashMap<&str, &Media>, render: Render) -> Value {
    match c {
        Cell::Text(t) => json!(t),
        Cell::Number(n) => match render {
            Render::Values => Value::Number(n.clone()),
            Render::Strings => json!(n.to_string()),
        },
        Cell::Attachment { attachment } => {
            let m = media.get(attachment.as_str());
            json!({
                "type": "attachment",
                "fileToken": attachment,
                "mimeType": m.map(|m| m.mime_type.as_str()).unwrap_or(""),
                "size": m.map_or(0, |m| m.size),
                "text": m.map(|m| m.file_name.as_str()).unwrap_or(""),
            })
        }
        Cell::Image { image } => json!({
            "type": "embed-image",
            "fileToken": image,
            "width": 0,
            "height": 0,
            "link": "",
            "text": "",
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses() {
        assert_eq!(Address::parse("B2"), Some(Address { col: 2, row: 2 }));
        assert_eq!(Address::parse("aa10"), Some(Address { col: 27, row: 10 }));
        for bad in ["", "2", "B", "B0", "B02", "1B", "B2C", "AAAA1", "B-1", "Ω1"] {
            assert_eq!(Address::parse(bad), None, "{bad}");
        }
        for n in [1, 26, 27, 52, 702, 703, 16_384] {
            assert_eq!(column(&column_name(n)), Some(n), "{n}");
        }
    }

    #[test]
    fn ranges() {
        let r = Range::parse("sht1!C3:A1").unwrap();
        assert_eq!(
            r.cells,
            Some((Address { col: 1, row: 1 }, Address { col: 3, row: 3 }))
        );
        assert_eq!(Range::parse("sht1").unwrap().cells, None);
        assert_eq!(
            Range::parse("s!B:C").unwrap().cells.unwrap().1,
            Address {
                col: 3,
                row: MAX_ROW
            }
        );
        for bad in ["", "!A1", "s!", "s!A1:", "s!1:2", "s!A1:B2:C3"] {
            assert!(Range::parse(bad).is_err(), "{bad}");
        }
    }
}
