//! `feishu-media export DOCUMENT…`: every media a docx, sheet or bitable holds, saved
//! under `DIR/<document>/` with a `media.json` that says where each one sits.
//!
//! A run lists the document (all pages), then downloads with the `download` machinery
//! (parallel, resumable, within each endpoint's quota). Files land under a hidden name
//! first and take their final names in document order once all are done, so numbering
//! of duplicate names does not depend on which download finished first. Run again, a
//! media whose file is still there with the size and ETag `media.json` recorded is
//! checked with one conditional request (`If-None-Match`) and left alone when unchanged.

use crate::transfer::{Bar, Connection, Quiet, SomeFailed, bar_style, failure_line};
use anyhow::Context;
use feishu_media_client::documents::{DocumentKind, MediaRef, Place};
use feishu_media_client::names::safe_file_name;
use feishu_media_client::{Client, DownloadOptions, Error, Progress};
use futures_util::StreamExt;
use indicatif::{MultiProgress, ProgressBar};
use serde::{Deserialize, Serialize};
use std::collections::{HashMap, HashSet};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[derive(clap::Args)]
pub struct ExportArgs {
    /// Document tokens: docx, sheets and bitables (the kind from the token's prefix, or
    /// --type).
    #[arg(required = true)]
    documents: Vec<String>,
    /// The folder to export into; each document gets DIR/<document>/.
    #[arg(short = 'o', long = "output", default_value = ".")]
    output: PathBuf,
    /// The kind of every document given: docx, sheet or bitable.
    #[arg(long = "type")]
    kind: Option<String>,
    /// Parallel ranged requests per file (default: chosen per file from its first answer).
    #[arg(long)]
    connections: Option<usize>,
    /// Files downloaded at once.
    #[arg(long, default_value_t = 4)]
    parallel: usize,
    /// Download everything again, even what is unchanged.
    #[arg(long)]
    force: bool,
    #[command(flatten)]
    conn: Connection,
}

/// `DIR/<document>/media.json`.
#[derive(Debug, Serialize, Deserialize)]
struct Index {
    document: String,
    kind: DocumentKind,
    media: Vec<Entry>,
}

/// One media of the index: its file, and every place the document shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Entry {
    file_token: String,
    name: String,
    size: u64,
    etag: Option<String>,
    /// Relative to the document's folder.
    path: String,
    places: Vec<Place>,
}

/// What happened to one media in this run.
#[derive(Debug, Serialize)]
struct Outcome {
    file_token: String,
    path: String,
    size: u64,
    /// `downloaded`, `unchanged`.
    status: &'static str,
    places: Vec<Place>,
}

pub async fn run(args: ExportArgs) -> anyhow::Result<()> {
    let client = args.conn.client()?;
    let forced_kind = match &args.kind {
        Some(k) => Some(
            DocumentKind::parse(k)
                .with_context(|| format!("--type {k:?}: use docx, sheet or bitable"))?,
        ),
        None => None,
    };
    let started = Instant::now();
    let (mut failed, mut total, mut downloaded, mut unchanged) = (0, 0, 0, 0);
    for doc in &args.documents {
        let kind = match forced_kind.or_else(|| DocumentKind::of_token(doc)) {
            Some(k) => k,
            None => anyhow::bail!(
                "{doc}: the token's prefix names no kind of document; give --type docx|sheet|bitable"
            ),
        };
        let report = export_one(&client, &args, doc, kind).await;
        match report {
            Ok(r) => {
                total += r.outcomes.len() + r.failures.len();
                failed += r.failures.len();
                for o in &r.outcomes {
                    match o.status {
                        "unchanged" => unchanged += 1,
                        _ => downloaded += 1,
                    }
                    if args.conn.json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": true, "document": doc, "media": o})
                        );
                    } else {
                        println!("{:<10} {doc}/{} ({} bytes)", o.status, o.path, o.size);
                    }
                }
                for (token, e) in &r.failures {
                    if args.conn.json {
                        println!(
                            "{}",
                            serde_json::json!({"ok": false, "document": doc, "file_token": token,
                                "error": e.to_string(), "code": e.code(), "hint": e.hint()})
                        );
                    } else {
                        eprintln!("{}", failure_line(&format!("{doc} {token}"), e));
                    }
                }
            }
            Err(e) => {
                // The listing itself failed: nothing of this document was touched.
                failed += 1;
                total += 1;
                if args.conn.json {
                    println!(
                        "{}",
                        serde_json::json!({"ok": false, "document": doc, "error": e.to_string(),
                            "code": e.code(), "hint": e.hint()})
                    );
                } else {
                    eprintln!("{}", failure_line(doc, &e));
                }
            }
        }
    }
    if !args.conn.json {
        eprintln!(
            "{downloaded} downloaded, {unchanged} unchanged, {failed} failed, in {:.1} s",
            started.elapsed().as_secs_f64()
        );
    }
    if failed > 0 {
        return Err(SomeFailed { failed, total }.into());
    }
    Ok(())
}

struct Report {
    outcomes: Vec<Outcome>,
    failures: Vec<(String, Error)>,
}

/// One media to fetch: its token, the places it sits, and what the listing said.
struct Wanted {
    file_token: String,
    size: Option<u64>,
    extra: Option<String>,
    places: Vec<Place>,
}

/// Groups `refs` by token, in the order each first appears.
fn wanted(refs: Vec<MediaRef>) -> Vec<Wanted> {
    let mut out: Vec<Wanted> = Vec::new();
    let mut at: HashMap<String, usize> = HashMap::new();
    for r in refs {
        match at.get(&r.file_token) {
            Some(&i) => out[i].places.push(r.place),
            None => {
                at.insert(r.file_token.clone(), out.len());
                out.push(Wanted {
                    file_token: r.file_token,
                    size: r.size,
                    extra: r.extra,
                    places: vec![r.place],
                });
            }
        }
    }
    out
}

/// A free name for `name` among `taken`: `a.png`, then `a (2).png`, `a (3).png`…
fn numbered(name: &str, taken: &HashSet<String>) -> String {
    if !taken.contains(name) {
        return name.to_owned();
    }
    let (stem, ext) = match name.rfind('.') {
        Some(i) if i > 0 => (&name[..i], &name[i..]),
        _ => (name, ""),
    };
    (2..)
        .map(|n| format!("{stem} ({n}){ext}"))
        .find(|c| !taken.contains(c))
        .expect("some number is free")
}

async fn export_one(
    client: &Client,
    args: &ExportArgs,
    doc: &str,
    kind: DocumentKind,
) -> Result<Report, Error> {
    let refs = client.document_media(kind, doc).await?;
    let dir = args.output.join(safe_file_name(doc, "document"));
    tokio::fs::create_dir_all(&dir).await?;
    let index_path = dir.join("media.json");
    let previous: HashMap<String, Entry> = match tokio::fs::read(&index_path).await {
        Ok(bytes) => serde_json::from_slice::<Index>(&bytes)
            .map(|i| {
                i.media
                    .into_iter()
                    .map(|e| (e.file_token.clone(), e))
                    .collect()
            })
            .unwrap_or_default(),
        Err(_) => HashMap::new(),
    };
    let wanted = wanted(refs);

    let bars = (!args.conn.json && std::io::stderr().is_terminal()).then(MultiProgress::new);
    let all = bars.as_ref().map(|m| {
        let b = m.add(ProgressBar::new(0).with_style(bar_style()));
        b.set_message(format!("{doc}: {} media", wanted.len()));
        b
    });
    // Each media: kept as it is (its previous entry), or downloaded under a hidden name.
    let results: Vec<(usize, Result<Fetched, Error>)> =
        futures_util::stream::iter(wanted.iter().enumerate())
            .map(|(i, w)| {
                let progress: Arc<dyn Progress> = match (&bars, &all) {
                    (Some(m), Some(all)) => {
                        let b = m.insert_from_back(1, ProgressBar::new(0).with_style(bar_style()));
                        b.set_message(w.file_token.clone());
                        Arc::new(Bar {
                            file: b,
                            all: all.clone(),
                        })
                    }
                    _ => Arc::new(Quiet),
                };
                let prev = previous.get(&w.file_token).cloned();
                let dir = dir.clone();
                async move {
                    (
                        i,
                        fetch(client, args, &dir, w, prev.as_ref(), progress).await,
                    )
                }
            })
            .buffer_unordered(args.parallel.max(1))
            .collect()
            .await;
    let mut by_index: Vec<Option<Result<Fetched, Error>>> =
        (0..wanted.len()).map(|_| None).collect();
    for (i, r) in results {
        by_index[i] = Some(r);
    }

    // Names, in document order: unchanged files keep theirs, then the new ones.
    let mut taken: HashSet<String> = HashSet::from(["media.json".to_owned()]);
    for r in by_index.iter().flatten() {
        if let Ok(Fetched::Kept(e)) = r {
            taken.insert(e.path.clone());
        }
    }
    let mut entries = Vec::new();
    let mut report = Report {
        outcomes: Vec::new(),
        failures: Vec::new(),
    };
    for (w, r) in wanted.iter().zip(by_index) {
        let (entry, status) = match r.expect("every media answered") {
            Err(e) => {
                // Keep what an earlier run saved of it, if anything.
                if let Some(prev) = previous.get(&w.file_token) {
                    entries.push(prev.clone());
                }
                report.failures.push((w.file_token.clone(), e));
                continue;
            }
            Ok(Fetched::Kept(mut e)) => {
                e.places = w.places.clone();
                (e, "unchanged")
            }
            Ok(Fetched::New(d)) => {
                // A changed media keeps its earlier file name; a new one takes the next
                // free one.
                let name = match previous.get(&w.file_token) {
                    Some(prev) if !taken.contains(&prev.path) => prev.path.clone(),
                    _ => numbered(&safe_file_name(&d.file_name, &w.file_token), &taken),
                };
                taken.insert(name.clone());
                tokio::fs::rename(&d.path, dir.join(&name)).await?;
                (
                    Entry {
                        file_token: w.file_token.clone(),
                        name: d.file_name,
                        size: d.size,
                        etag: d.etag,
                        path: name,
                        places: w.places.clone(),
                    },
                    "downloaded",
                )
            }
        };
        report.outcomes.push(Outcome {
            file_token: entry.file_token.clone(),
            path: entry.path.clone(),
            size: entry.size,
            status,
            places: entry.places.clone(),
        });
        entries.push(entry);
    }
    let index = Index {
        document: doc.to_owned(),
        kind,
        media: entries,
    };
    write_atomically(
        &index_path,
        &serde_json::to_vec_pretty(&index).expect("serializable"),
    )
    .await?;
    Ok(report)
}

/// A media of this run: an earlier file kept, or a new download under a hidden name.
enum Fetched {
    Kept(Entry),
    New(feishu_media_client::Downloaded),
}

async fn fetch(
    client: &Client,
    args: &ExportArgs,
    dir: &Path,
    w: &Wanted,
    prev: Option<&Entry>,
    progress: Arc<dyn Progress>,
) -> Result<Fetched, Error> {
    let extra = w.extra.as_deref();
    if let Some(prev) = prev
        && !args.force
        && w.size.is_none_or(|s| s == prev.size)
        && tokio::fs::metadata(dir.join(&prev.path))
            .await
            .is_ok_and(|m| m.len() == prev.size)
        && let Some(etag) = &prev.etag
        && client.unchanged(&w.file_token, etag, extra).await?
    {
        return Ok(Fetched::Kept(prev.clone()));
    }
    let opts = DownloadOptions {
        extra: w.extra.clone(),
        connections: args.connections.map(|n| n.max(1)),
        force: true,
        save_as: Some(format!(".{}.export", w.file_token)),
        ..Default::default()
    };
    client
        .download_to_dir(&w.file_token, dir, &opts, progress)
        .await
        .map(Fetched::New)
}

/// Writes `bytes` to `path` through a temporary file and a rename: a crash leaves the
/// old index or the new, never half of one.
async fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension("json.tmp");
    tokio::fs::write(&tmp, bytes).await?;
    tokio::fs::rename(&tmp, path).await
}

#[cfg(test)]
mod tests {
    use super::numbered;
    use std::collections::HashSet;

    #[test]
    fn duplicate_names_are_numbered() {
        let taken: HashSet<String> = ["a.png", "a (2).png", "notes"].map(String::from).into();
        assert_eq!(numbered("b.png", &taken), "b.png");
        assert_eq!(numbered("a.png", &taken), "a (3).png");
        assert_eq!(numbered("notes", &taken), "notes (2)");
        let hidden: HashSet<String> = [".hidden".to_owned()].into();
        assert_eq!(numbered(".hidden", &hidden), ".hidden (2)");
    }
}
