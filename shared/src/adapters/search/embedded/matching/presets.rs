//! Leaves worked out once, when a segment is written, instead of at a query's first use of a
//! word: each broad term's documents as a bitset and, for a scored field, its shortest length
//! norm per 64-document block and the norm classes it falls in (see [`LeafScoring`]).
//!
//! Lucene stores per-block "impacts" with its postings for the same reason (block-max WAND
//! without a pass over a word's documents at query time); tantivy's skip data keeps one per
//! 128 postings, which for a broad word spans many of the ranking's 64-document blocks. At a
//! million items the pass and the postings read were most of a new word's cost (about 3 ns and
//! 1.5 ns per posting, a third of a million postings for a common word).
//!
//! One file per segment, `<segment uuid>.leaves` beside the segment's own files, written by
//! the index writer after each commit and merge for segments of at least [`MIN_DOCS`]
//! documents, and removed once its segment is gone. A segment never changes (deletes are
//! applied at query time, and the precomputed norms stay upper bounds over the survivors), so
//! its file stays true for the segment's life. A reader that finds no file, or one that does
//! not fit its segment, works the leaves out at first use: the file saves time, never changes
//! an answer.
//!
//! Layout (little-endian): the entries' data (bitset words, then block norms), then the index
//! (per term: field id, key, flags, shortest norm, classes, data offset), the norm classes the
//! entries were numbered with, and a footer (document count, index offset, magic).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use tantivy::directory::{Directory, MmapDirectory, OwnedBytes};
use tantivy::schema::{Field, IndexRecordOption};
use tantivy::{Searcher, SegmentReader, Term};

use super::{read_bits, LeafBits, LeafScoring, SegmentView, Words};

const MAGIC: &[u8; 8] = b"AISLELV1";
const SUFFIX: &str = "leaves";
/// Segments smaller than this work their leaves out at query time by default: a word there
/// has too few documents for the pass to show.
pub(in super::super) const MIN_DOCS: u32 = 1 << 16;
/// A term's block norms are kept when it is in at least one document in this many (the norms
/// are one byte per 64 documents, so at most 4 bytes per posting).
const NORMS_DENSITY: u32 = 256;
/// Its bitset is kept when in at least one document in this many (at most 32 bytes per
/// posting, against 1 to 2 in the postings). Reading a sparser term's postings is quick; it
/// is the fresh bitset they are read into that costs (one page fault per 4 kB: 60 µs for a
/// million documents here, where a mapped bitset costs 16). At 1 in 64 the 1,000,000-item
/// benchmark's p99 was 0.51 to 0.60 ms; at 1 in 256, 0.44 to 0.45 ms, for a file of 81 MB
/// beside a 320 MB index (56 MB at 1 in 64).
const BITS_DENSITY: u32 = 256;

// Bitset words are written as the machine's `usize`: 64 bits on every host this runs on.
const _: () = assert!(usize::BITS == 64);

const HAS_BITS: u8 = 1;
const HAS_NORMS: u8 = 2;
const HAS_CLASSES: u8 = 4;

/// Where one term's precomputed parts are.
struct Entry {
    flags: u8,
    shortest: u8,
    classes: [u64; 4],
    offset: u64,
}

/// An opened `.leaves` file of one segment, memory-mapped: a leaf's words are used where
/// they lie. Reading 125 kB (a million documents' bits) into a fresh allocation measured
/// 60 µs here, nearly all of it page faults on the new memory (one per 4 kB page); the
/// mapped file's pages, already in the file cache, are mapped several per fault: 16 µs.
pub(super) struct Presets {
    bytes: OwnedBytes,
    words: usize,
    by_term: HashMap<(u32, Box<[u8]>), Entry>,
}

/// What a file holds for one term: its bitset words (when dense enough; little-endian,
/// 8-byte aligned) and its scoring (when in a scored field).
pub(super) struct Preset {
    pub bits: Option<OwnedBytes>,
    pub scoring: Option<LeafScoring>,
}

fn name(reader: &SegmentReader) -> PathBuf {
    PathBuf::from(format!("{}.{SUFFIX}", reader.segment_id().uuid_string()))
}

impl Presets {
    /// The segment's file, if there is one that fits it: its document count, and the norm
    /// classes the segment numbers (`triples`) for the classes it records.
    pub(super) fn open(
        dir: &Path,
        reader: &SegmentReader,
        triples: Option<&[[u8; 3]]>,
    ) -> Option<Self> {
        let name = name(reader);
        if !dir.join(&name).exists() {
            return None;
        }
        let mapped = MmapDirectory::open(dir)
            .map_err(|e| e.to_string())
            .and_then(|d| d.open_read(&name).map_err(|e| e.to_string()))
            .and_then(|f| f.read_bytes().map_err(|e| e.to_string()));
        match mapped.and_then(|bytes| Self::read_index(bytes, reader.max_doc(), triples)) {
            Ok(presets) => Some(presets),
            Err(reason) => {
                tracing::warn!(file = %name.display(), %reason, "precomputed leaves not used");
                None
            }
        }
    }

    fn read_index(
        bytes: OwnedBytes,
        max_doc: u32,
        triples: Option<&[[u8; 3]]>,
    ) -> Result<Self, String> {
        const FOOTER: usize = 20;
        let len = bytes.len();
        if len < FOOTER {
            return Err("too short".into());
        }
        let footer = &bytes[len - FOOTER..];
        if &footer[12..] != MAGIC {
            return Err("not a leaves file".into());
        }
        let docs = u32::from_le_bytes(footer[..4].try_into().expect("4 bytes"));
        if docs != max_doc {
            return Err(format!(
                "written for {docs} documents, segment has {max_doc}"
            ));
        }
        let start = u64::from_le_bytes(footer[4..12].try_into().expect("8 bytes")) as usize;
        let index = bytes
            .get(start..len - FOOTER)
            .ok_or("index offset past the end")?;
        let mut at = Reader(index);
        let count = at.u32()?;
        let mut by_term = HashMap::with_capacity(count as usize);
        for _ in 0..count {
            let field = at.u32()?;
            let key_len = at.u32()? as usize;
            let key: Box<[u8]> = at.take(key_len)?.into();
            let flags = at.take(1)?[0];
            let shortest = at.take(1)?[0];
            let classes = [at.u64()?, at.u64()?, at.u64()?, at.u64()?];
            let offset = at.u64()?;
            by_term.insert(
                (field, key),
                Entry {
                    flags,
                    shortest,
                    classes,
                    offset,
                },
            );
        }
        let classes = at.u32()? as usize;
        let written: Vec<[u8; 3]> = (0..classes)
            .map(|_| at.take(3).map(|t| [t[0], t[1], t[2]]))
            .collect::<Result<_, _>>()?;
        // Classes are numbered by the segment's documents in order, so a reader numbers them
        // alike; if not (another numbering), the classes are not used and the ceiling is
        // looser, which is still correct.
        if triples != Some(written.as_slice()) {
            for entry in by_term.values_mut() {
                entry.flags &= !HAS_CLASSES;
            }
        }
        // Every entry's data must lie before the index.
        let words = (max_doc as usize).div_ceil(64);
        for entry in by_term.values() {
            let size = if entry.flags & HAS_BITS != 0 {
                words * 8
            } else {
                0
            } + if entry.flags & HAS_NORMS != 0 {
                words
            } else {
                0
            };
            if (entry.offset as usize).saturating_add(size) > start {
                return Err("an entry lies past the data".into());
            }
        }
        Ok(Self {
            bytes,
            words,
            by_term,
        })
    }

    /// The precomputed parts for `term`, if the file has them.
    pub(super) fn get(&self, term: &Term) -> Option<Preset> {
        let entry = self.by_term.get(&(
            term.field().field_id(),
            term.serialized_value_bytes().into(),
        ))?;
        let mut offset = entry.offset as usize;
        let mut take = |len: usize| {
            let slice = self.bytes.slice(offset..offset + len);
            offset += len;
            slice
        };
        // Words are used in place, so they must sit at an 8-byte boundary (the writer pads
        // entries to one, and a mapping starts at a page) and the machine must read them as
        // written (little-endian: x86-64 and arm64, what Lambda runs); if not, the postings
        // are read.
        let bits = (entry.flags & HAS_BITS != 0)
            .then(|| take(self.words * 8))
            .filter(|words| {
                cfg!(target_endian = "little")
                    && bytemuck::try_cast_slice::<u8, usize>(words).is_ok()
            });
        let scoring = if entry.flags & HAS_NORMS != 0 {
            Some(LeafScoring {
                block_norms: take(self.words),
                shortest: entry.shortest,
                classes: (entry.flags & HAS_CLASSES != 0).then_some(entry.classes),
            })
        } else {
            None
        };
        Some(Preset { bits, scoring })
    }
}

/// A cursor over the index bytes.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        if self.0.len() < n {
            return Err("index cut short".into());
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }
    fn u32(&mut self) -> Result<u32, String> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().expect("4 bytes"),
        ))
    }
    fn u64(&mut self) -> Result<u64, String> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().expect("8 bytes"),
        ))
    }
}

/// Write the file of each segment of `searcher` with at least `min_docs` documents that has
/// none, and remove the files of segments no longer there. `scored` are the fields relevance
/// reads (their slot is their place); `filters` the fields whose terms are only intersected.
/// Returns how many files were written.
pub(in super::super) fn write_missing(
    dir: &Path,
    searcher: &Searcher,
    scored: [Field; 3],
    filters: &[Field],
    min_docs: u32,
) -> tantivy::Result<usize> {
    let mut written = 0;
    for reader in searcher.segment_readers() {
        let path = dir.join(name(reader));
        if reader.max_doc() < min_docs.max(1) || path.exists() {
            continue;
        }
        let started = std::time::Instant::now();
        let segment = reader.segment_id().uuid_string();
        // One segment's failure (a full disk, say) leaves that segment to work its leaves out
        // at first use; the others are still written.
        match write_one(&path, reader, scored, filters) {
            Ok(terms) => {
                written += 1;
                tracing::info!(
                    %segment,
                    docs = reader.max_doc(),
                    terms,
                    took_ms = started.elapsed().as_millis() as u64,
                    "precomputed leaves written"
                );
            }
            Err(error) => {
                tracing::warn!(%segment, %error, "precomputed leaves not written");
            }
        }
    }
    // Files of merged-away segments. A reader still holding such a segment keeps its file
    // mapped (an unlinked file stays readable), and one opening it anew finds none and reads
    // postings. Temporary files are left for an hour: another process may be writing one;
    // older ones are from a write that did not finish.
    let live: std::collections::HashSet<PathBuf> = searcher
        .segment_readers()
        .iter()
        .map(|r| dir.join(name(r)))
        .collect();
    let an_hour_ago = std::time::SystemTime::now() - std::time::Duration::from_secs(3_600);
    for found in std::fs::read_dir(dir)?.flatten() {
        let file = found.path();
        let name = file.to_string_lossy();
        let stale = if name.ends_with(&format!(".{SUFFIX}")) {
            !live.contains(&file)
        } else if name.contains(&format!(".{SUFFIX}.")) && name.ends_with(".tmp") {
            found
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|at| at < an_hour_ago)
        } else {
            false
        };
        if stale {
            let _ = std::fs::remove_file(&file);
        }
    }
    Ok(written)
}

/// Work out one segment's leaves and write them to `path` through a temporary file (removed
/// if the write fails); returns how many terms the file holds.
fn write_one(
    path: &Path,
    reader: &SegmentReader,
    scored: [Field; 3],
    filters: &[Field],
) -> tantivy::Result<usize> {
    let view = SegmentView::load(reader, scored, None)?;
    // A name of its own: two processes publishing the same generation may both write a lone
    // segment's file (the same bytes), and each renames only its own.
    let temp = path.with_extension(format!(
        "{SUFFIX}.{}-{}.tmp",
        std::process::id(),
        rand::random::<u32>()
    ));
    let written = write(&temp, reader, &view, scored, filters).and_then(|terms| {
        std::fs::rename(&temp, path)
            .map(|()| terms)
            .map_err(Into::into)
    });
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written
}

/// Write one segment's file at `path`; returns how many terms it holds.
fn write(
    path: &Path,
    reader: &SegmentReader,
    view: &SegmentView,
    scored: [Field; 3],
    filters: &[Field],
) -> tantivy::Result<usize> {
    let max_doc = reader.max_doc();
    let mut out = BufWriter::new(File::create(path)?);
    let mut offset = 0u64;
    let mut index = Vec::new();
    let mut count = 0u32;
    let fields = scored
        .into_iter()
        .enumerate()
        .map(|(slot, field)| (field, Some(slot)))
        .chain(filters.iter().map(|&field| (field, None)));
    for (field, slot) in fields {
        let inverted = reader.inverted_index(field)?;
        let mut terms = inverted.terms().stream()?;
        while terms.advance() {
            let info = terms.value().clone();
            let keep_norms = slot.is_some() && info.doc_freq >= max_doc / NORMS_DENSITY;
            let keep_bits = info.doc_freq >= max_doc / BITS_DENSITY;
            if !keep_norms && !keep_bits {
                continue;
            }
            let postings =
                inverted.read_block_postings_from_terminfo(&info, IndexRecordOption::Basic)?;
            let leaf = LeafBits {
                bits: Words::Owned(read_bits(Some(postings), max_doc)),
                scoring: OnceLock::new(),
            };
            let mut flags = 0;
            if keep_bits {
                flags |= HAS_BITS;
                for &word in leaf.bits.as_slice() {
                    out.write_all(&word.to_le_bytes())?;
                }
            }
            let (mut shortest, mut classes) = (u8::MAX, [0u64; 4]);
            if let (true, Some(slot)) = (keep_norms, slot) {
                let scoring = leaf.scoring(&view.norms, slot);
                flags |= HAS_NORMS;
                out.write_all(&scoring.block_norms)?;
                shortest = scoring.shortest;
                if let Some(found) = scoring.classes {
                    flags |= HAS_CLASSES;
                    classes = found;
                }
            }
            let key = terms.key();
            index.extend_from_slice(&field.field_id().to_le_bytes());
            index.extend_from_slice(&(key.len() as u32).to_le_bytes());
            index.extend_from_slice(key);
            index.extend_from_slice(&[flags, shortest]);
            for class in classes {
                index.extend_from_slice(&class.to_le_bytes());
            }
            index.extend_from_slice(&offset.to_le_bytes());
            let words = leaf.bits.as_slice().len() as u64;
            let size = if flags & HAS_BITS != 0 { words * 8 } else { 0 }
                + if flags & HAS_NORMS != 0 { words } else { 0 };
            // The next entry's words start at an 8-byte boundary.
            let padding = size.next_multiple_of(8) - size;
            out.write_all(&vec![0u8; padding as usize])?;
            offset += size + padding;
            count += 1;
        }
    }
    out.write_all(&count.to_le_bytes())?;
    out.write_all(&index)?;
    let triples = view.norms.triples();
    out.write_all(&(triples.len() as u32).to_le_bytes())?;
    for triple in triples {
        out.write_all(triple)?;
    }
    out.write_all(&max_doc.to_le_bytes())?;
    out.write_all(&offset.to_le_bytes())?;
    out.write_all(MAGIC)?;
    out.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(count as usize)
}
