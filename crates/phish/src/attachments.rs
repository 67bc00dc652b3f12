//! Attachments: hashes, true type by magic bytes, dangerous and double extensions, archives
//! (bounded: zip bombs are detected from their directory, never expanded), Office macros,
//! PDF actions, HTML attachments and smuggling, LNK/ISO/OneNote.

use std::io::{Cursor, Read};

use mail_parser::{MessagePart, MimeHeaders};
use md5::Md5;
use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::report::{AttachmentInfo, Category};
use crate::{Context, links};

/// Extensions that run code when opened on Windows (or mount images that hide such files).
const EXECUTABLE: &[&str] = &[
    "exe",
    "scr",
    "com",
    "pif",
    "bat",
    "cmd",
    "vbs",
    "vbe",
    "js",
    "jse",
    "wsf",
    "wsh",
    "hta",
    "ps1",
    "psm1",
    "msi",
    "msp",
    "jar",
    "lnk",
    "cpl",
    "dll",
    "reg",
    "application",
    "appref-ms",
    "gadget",
    "msc",
    "iso",
    "img",
    "vhd",
    "vhdx",
    "one",
    "onepkg",
    "chm",
    "xll",
    "url",
    "library-ms",
    "settingcontent-ms",
    "svg",
    "xlam",
    "ppam",
    "inf",
    "scf",
    "sct",
    "apk",
    "appx",
    "msix",
];
/// Extensions a victim trusts and attackers put before the real one.
const DOCUMENT: &[&str] = &[
    "pdf", "doc", "docx", "xls", "xlsx", "ppt", "pptx", "txt", "jpg", "jpeg", "png", "gif", "rtf",
    "odt", "csv", "zip", "htm", "html", "mp3", "mp4", "wav",
];
const MACRO_DOCUMENT: &[&str] = &["docm", "xlsm", "pptm", "dotm", "xltm", "xlsb"];
const ARCHIVE: &[&str] = &[
    "zip", "rar", "7z", "gz", "tgz", "tar", "cab", "ace", "arj", "xz", "bz2", "z", "lzh", "r00",
];

/// Most entries of one archive that are listed.
const MAX_ARCHIVE_ENTRIES: usize = 2_000;
/// Compression ratio above which a large entry is a zip bomb.
const BOMB_RATIO: u64 = 200;

fn extension(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.trim().to_ascii_lowercase())
        .unwrap_or_default()
}

/// Type from the content's first bytes.
fn magic(data: &[u8]) -> &'static str {
    let starts = |m: &[u8]| data.starts_with(m);
    if starts(b"MZ") {
        "pe_executable"
    } else if starts(b"PK\x03\x04") || starts(b"PK\x05\x06") {
        "zip"
    } else if starts(&[0xD0, 0xCF, 0x11, 0xE0, 0xA1, 0xB1, 0x1A, 0xE1]) {
        "ole"
    } else if starts(b"%PDF-")
        || data[..data.len().min(1024)]
            .windows(5)
            .any(|w| w == b"%PDF-")
    {
        "pdf"
    } else if starts(b"Rar!") {
        "rar"
    } else if starts(&[0x37, 0x7A, 0xBC, 0xAF, 0x27, 0x1C]) {
        "7z"
    } else if starts(&[0x1F, 0x8B]) {
        "gzip"
    } else if starts(b"MSCF") {
        "cab"
    } else if starts(&[0x4C, 0, 0, 0, 0x01, 0x14, 0x02, 0]) {
        "lnk"
    } else if starts(&[0xE4, 0x52, 0x5C, 0x7B, 0x8C, 0xD8, 0xA7, 0x4D]) {
        "onenote"
    } else if starts(b"\x7FELF") {
        "elf"
    } else if data.len() > 0x8006 && &data[0x8001..0x8006] == b"CD001" {
        "iso"
    } else if starts(b"{\\rtf") {
        "rtf"
    } else if starts(&[0x89, b'P', b'N', b'G']) {
        "png"
    } else if starts(&[0xFF, 0xD8, 0xFF]) {
        "jpeg"
    } else if starts(b"GIF8") {
        "gif"
    } else {
        let head = String::from_utf8_lossy(&data[..data.len().min(1024)]).to_ascii_lowercase();
        if head.contains("<html")
            || head.contains("<!doctype html")
            || head.contains("<script")
            || head.contains("<body")
        {
            "html"
        } else if head.contains("<svg") {
            "svg"
        } else if std::str::from_utf8(&data[..data.len().min(4096)]).is_ok() {
            "text"
        } else {
            "data"
        }
    }
}

pub(crate) fn check(
    cx: &mut Context,
    part: &MessagePart,
    sender_domain: Option<&str>,
    depth: usize,
) {
    let name = part
        .attachment_name()
        .map(str::to_owned)
        .unwrap_or_else(|| {
            part.content_type()
                .map(|ct| format!("unnamed.{}", ct.subtype().unwrap_or("bin")))
                .unwrap_or_else(|| "unnamed".into())
        });
    let data = part.contents();
    if part.is_encoding_problem {
        cx.out.add(
            "analysis.bad_encoding",
            Category::Analysis,
            0,
            format!("the attachment {name} is badly encoded; it was analysed as far as it could be decoded"),
            format!("l'allegato {name} è codificato male; è stato analizzato per quanto decodificabile"),
        );
    }
    file(cx, &name, data, sender_domain, depth);
}

/// Examines one file (an attachment or an archive member).
fn file(cx: &mut Context, name: &str, data: &[u8], sender_domain: Option<&str>, depth: usize) {
    let detected = magic(data);
    let sha256 = hex(&Sha256::digest(data));
    if cx.attachments.len() < 200 {
        cx.attachments.push(AttachmentInfo {
            name: name.to_owned(),
            detected_type: detected.to_owned(),
            size: data.len(),
            md5: hex(&Md5::digest(data)),
            sha1: hex(&Sha1::digest(data)),
            sha256: sha256.clone(),
        });
        cx.indicators.attachment_sha256.push(sha256);
    }
    let ext = extension(name);
    let lower = name.to_ascii_lowercase();
    if EXECUTABLE.contains(&ext.as_str())
        || matches!(
            detected,
            "pe_executable" | "elf" | "lnk" | "onenote" | "iso"
        )
    {
        cx.out.add(
            "attachment.executable",
            Category::Attachments,
            7,
            format!("the attachment {name} is a program, script or disk image that runs code when opened"),
            format!("l'allegato {name} è un programma, uno script o un'immagine disco che esegue codice se aperto"),
        );
    }
    let parts: Vec<&str> = lower.split('.').collect();
    if parts.len() >= 3 {
        let inner = parts[parts.len() - 2].trim();
        if DOCUMENT.contains(&inner)
            && (EXECUTABLE.contains(&ext.as_str())
                || ARCHIVE.contains(&ext.as_str())
                || ext == "html"
                || ext == "htm")
        {
            cx.out.add(
                "attachment.double_extension",
                Category::Attachments,
                4,
                format!("the attachment {name} hides its real type behind a double extension"),
                format!("l'allegato {name} nasconde il suo vero tipo dietro una doppia estensione"),
            );
        }
    }
    if lower.contains("   ") || lower.contains('\u{202e}') {
        cx.out.add(
            "attachment.name_trick",
            Category::Attachments,
            4,
            format!("the attachment name {name} uses spaces or reversed text to hide its extension"),
            format!("il nome dell'allegato {name} usa spazi o testo invertito per nascondere l'estensione"),
        );
    }
    let claimed_document = matches!(
        ext.as_str(),
        "pdf" | "doc" | "docx" | "xls" | "xlsx" | "jpg" | "jpeg" | "png" | "txt"
    );
    if claimed_document
        && matches!(
            detected,
            "pe_executable" | "elf" | "lnk" | "html" | "onenote"
        )
    {
        cx.out.add(
            "attachment.type_mismatch",
            Category::Attachments,
            5,
            format!("the attachment {name} claims to be .{ext} but is really {detected}"),
            format!("l'allegato {name} dichiara di essere .{ext} ma in realtà è {detected}"),
        );
    }
    if MACRO_DOCUMENT.contains(&ext.as_str()) {
        cx.out.add(
            "attachment.macro_document",
            Category::Attachments,
            4,
            format!("the attachment {name} is an Office document type made to carry macros"),
            format!("l'allegato {name} è un tipo di documento Office fatto per contenere macro"),
        );
    }
    if let Some(rules) = cx.analyzer.yara.clone()
        && data.len() <= cx.analyzer.config.max_inspect_bytes
    {
        yara(cx, &rules, name, data);
    }
    if data.len() > cx.analyzer.config.max_inspect_bytes {
        cx.out.add(
            "analysis.attachment_too_large",
            Category::Analysis,
            0,
            format!("the attachment {name} is too large ({} MB) to be inspected; only its hash was computed", data.len() >> 20),
            format!("l'allegato {name} è troppo grande ({} MB) per essere ispezionato; ne è stato calcolato solo l'hash", data.len() >> 20),
        );
        return;
    }
    match detected {
        "zip" => zip(cx, name, data, sender_domain, depth),
        "ole" => ole(cx, name, data),
        "pdf" => pdf(cx, name, data, sender_domain),
        "html" | "svg" => html(cx, name, data, sender_domain),
        "rar" | "7z" | "cab" | "gzip" if depth == 0 => {
            cx.out.add(
                "attachment.archive",
                Category::Attachments,
                2,
                format!("the attachment {name} is a compressed archive ({detected}) whose content is hidden from mail filters"),
                format!("l'allegato {name} è un archivio compresso ({detected}) il cui contenuto sfugge ai filtri di posta"),
            );
        }
        _ => {}
    }
}

fn zip(cx: &mut Context, name: &str, data: &[u8], sender_domain: Option<&str>, depth: usize) {
    let mut archive = match zip::ZipArchive::new(Cursor::new(data)) {
        Ok(archive) => archive,
        Err(err) => {
            cx.out.add(
                "analysis.bad_archive",
                Category::Analysis,
                1,
                format!("the archive {name} is damaged and could not be read ({err})"),
                format!("l'archivio {name} è danneggiato e non è stato possibile leggerlo ({err})"),
            );
            return;
        }
    };
    let mut is_office = false;
    let mut declared_total: u64 = 0;
    let mut budget = cx.analyzer.config.max_unpacked_bytes;
    let n_entries = archive.len().min(MAX_ARCHIVE_ENTRIES);
    for index in 0..n_entries {
        let Ok(mut entry) = archive.by_index(index) else {
            continue;
        };
        let entry_name = entry.name().to_owned();
        let lower = entry_name.to_ascii_lowercase();
        let size = entry.size();
        let compressed = entry.compressed_size().max(1);
        declared_total = declared_total.saturating_add(size);
        if lower == "[content_types].xml"
            || lower.starts_with("word/")
            || lower.starts_with("xl/")
            || lower.starts_with("ppt/")
        {
            is_office = true;
        }
        if lower.ends_with("vbaproject.bin") {
            cx.out.add(
                "attachment.macro",
                Category::Attachments,
                6,
                format!("the document {name} contains macros (vbaProject.bin), which can run code"),
                format!("il documento {name} contiene macro (vbaProject.bin), che possono eseguire codice"),
            );
        }
        if entry.encrypted() {
            cx.out.add(
                "attachment.encrypted_archive",
                Category::Attachments,
                3,
                format!("the archive {name} is password-protected, which hides its content from mail filters"),
                format!("l'archivio {name} è protetto da password, il che ne nasconde il contenuto ai filtri"),
            );
            continue;
        }
        if size > 10 << 20 && size / compressed > BOMB_RATIO {
            cx.out.add(
                "attachment.zip_bomb",
                Category::Attachments,
                6,
                format!("the archive {name} is a decompression bomb ({entry_name} expands {}x); it was not expanded", size / compressed),
                format!("l'archivio {name} è una bomba di decompressione ({entry_name} si espande {}x); non è stato espanso", size / compressed),
            );
            continue;
        }
        if entry.is_dir() || is_office && !lower.ends_with(".bin") {
            continue;
        }
        if depth + 1 >= cx.analyzer.config.max_depth {
            continue;
        }
        // Bounded read: never more than the remaining budget, whatever the header claims.
        let limit = size
            .min(budget)
            .min(cx.analyzer.config.max_inspect_bytes as u64);
        let mut content = Vec::new();
        if (&mut entry).take(limit).read_to_end(&mut content).is_err() {
            continue;
        }
        budget = budget.saturating_sub(content.len() as u64);
        if !is_office {
            let member = format!("{name}/{entry_name}");
            file(cx, &member, &content, sender_domain, depth + 1);
        } else if lower.ends_with(".bin") && content.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
            ole(cx, name, &content);
        }
        if budget == 0 {
            break;
        }
    }
    if declared_total > 1 << 30 && !cx.out.has("attachment.zip_bomb") {
        cx.out.add(
            "attachment.zip_bomb",
            Category::Attachments,
            6,
            format!(
                "the archive {name} claims to expand to {} MB; it was not expanded",
                declared_total >> 20
            ),
            format!(
                "l'archivio {name} dichiara di espandersi a {} MB; non è stato espanso",
                declared_total >> 20
            ),
        );
    }
    if archive.len() > MAX_ARCHIVE_ENTRIES {
        cx.out.add(
            "analysis.archive_truncated",
            Category::Analysis,
            1,
            format!("the archive {name} has {} files; only the first {MAX_ARCHIVE_ENTRIES} were examined", archive.len()),
            format!("l'archivio {name} contiene {} file; sono stati esaminati solo i primi {MAX_ARCHIVE_ENTRIES}", archive.len()),
        );
    }
}

/// OLE compound files: legacy Office documents with VBA, encrypted documents, embedded objects.
fn ole(cx: &mut Context, name: &str, data: &[u8]) {
    let Ok(compound) = cfb::CompoundFile::open(Cursor::new(data)) else {
        cx.out.add(
            "analysis.bad_ole",
            Category::Analysis,
            1,
            format!("the Office document {name} is damaged and could not be read"),
            format!("il documento Office {name} è danneggiato e non è stato possibile leggerlo"),
        );
        return;
    };
    let mut has_vba = false;
    let mut has_native = false;
    for entry in compound.walk().take(10_000) {
        let entry_name = entry.name().to_ascii_lowercase();
        has_vba |= entry_name == "_vba_project"
            || entry_name == "vba"
            || entry_name == "macros"
            || entry_name == "dir"
                && entry
                    .path()
                    .to_string_lossy()
                    .to_ascii_lowercase()
                    .contains("vba");
        has_native |= entry_name.contains("ole10native");
    }
    if has_vba {
        cx.out.add(
            "attachment.macro",
            Category::Attachments,
            6,
            format!("the document {name} contains VBA macros, which can run code"),
            format!("il documento {name} contiene macro VBA, che possono eseguire codice"),
        );
    }
    if has_native {
        cx.out.add(
            "attachment.embedded_object",
            Category::Attachments,
            3,
            format!("the document {name} embeds a file object (a common way to drop a program)"),
            format!("il documento {name} incorpora un oggetto file (un modo comune per nascondere un programma)"),
        );
    }
}

fn pdf(cx: &mut Context, name: &str, data: &[u8], sender_domain: Option<&str>) {
    let has = |needle: &[u8]| data.windows(needle.len()).any(|w| w == needle);
    if has(b"/JavaScript") || has(b"/JS ") || has(b"/JS(") || has(b"/JS<") {
        cx.out.add(
            "attachment.pdf_javascript",
            Category::Attachments,
            4,
            format!("the PDF {name} contains JavaScript"),
            format!("il PDF {name} contiene JavaScript"),
        );
    }
    if has(b"/Launch") {
        cx.out.add(
            "attachment.pdf_launch",
            Category::Attachments,
            6,
            format!("the PDF {name} tries to launch a program when opened"),
            format!("il PDF {name} tenta di avviare un programma all'apertura"),
        );
    }
    // Links inside the PDF: lures are often a one-page PDF with a button to a fake login.
    let mut n_uris = pdf_uris(cx, &data[..data.len().min(8 << 20)], sender_domain);
    // Most PDFs keep their link annotations in compressed object streams.
    let mut budget: usize = 16 << 20;
    for stream in pdf_streams(data).take(500) {
        if budget == 0 || n_uris >= 200 {
            break;
        }
        let mut inflated = Vec::new();
        let limit = budget.min(4 << 20) as u64;
        let _ = flate2::read::ZlibDecoder::new(stream)
            .take(limit)
            .read_to_end(&mut inflated);
        budget = budget.saturating_sub(inflated.len());
        if inflated.windows(4).any(|w| w == b"/URI") {
            n_uris += pdf_uris(cx, &inflated, sender_domain);
        }
    }

    if n_uris > 0 && data.len() < 200 << 10 && !has(b"/Font") {
        cx.out.add(
            "attachment.pdf_link_lure",
            Category::Attachments,
            2,
            format!("the PDF {name} is little more than a link to a web page"),
            format!("il PDF {name} è poco più di un link a una pagina web"),
        );
    }
    if has(b"/EmbeddedFile") {
        cx.out.add(
            "attachment.pdf_embedded_file",
            Category::Attachments,
            3,
            format!("the PDF {name} carries an embedded file"),
            format!("il PDF {name} contiene un file incorporato"),
        );
    }
}

/// Link targets (`/URI (...)`) in PDF bytes; returns how many were found.
fn pdf_uris(cx: &mut Context, scanned: &[u8], sender_domain: Option<&str>) -> usize {
    let mut n_uris = 0;
    let mut from = 0;
    while n_uris < 200 {
        let Some(found) = scanned[from..].windows(4).position(|w| w == b"/URI") else {
            break;
        };
        let start = from + found + 4;
        from = start;
        let window = &scanned[start..scanned.len().min(start + 2100)];
        let window = String::from_utf8_lossy(window);
        if let Some(inner) = window.trim_start().strip_prefix('(')
            && let Some(end) = inner.find(')')
        {
            n_uris += 1;
            links::from_document(cx, &inner[..end], sender_domain);
        }
    }
    n_uris
}

/// The raw content of each `stream ... endstream` of a PDF.
fn pdf_streams(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    let mut from = 0;
    std::iter::from_fn(move || {
        let found = data[from..].windows(6).position(|w| w == b"stream")?;
        let mut start = from + found + 6;
        if data[start..].starts_with(b"\r\n") {
            start += 2;
        } else if data[start..].starts_with(b"\n") {
            start += 1;
        }
        let end = data[start..]
            .windows(9)
            .position(|w| w == b"endstream")
            .map_or(data.len(), |e| start + e);
        from = (end + 9).min(data.len());
        Some(&data[start..end])
    })
}

/// HTML (and SVG) attachments open as local pages: a favourite for fake logins and for
/// "HTML smuggling" (a file assembled by script in the browser).
fn html(cx: &mut Context, name: &str, data: &[u8], sender_domain: Option<&str>) {
    let text = String::from_utf8_lossy(data);
    let lower = text.to_ascii_lowercase();
    cx.out.add(
        "attachment.html",
        Category::Attachments,
        3,
        format!("the attachment {name} is a web page that opens in the browser, a common way to show a fake login"),
        format!("l'allegato {name} è una pagina web che si apre nel browser, un modo comune per mostrare un falso accesso"),
    );
    let smuggling = ["msSaveOrOpenBlob", "createObjectURL", "new Blob("]
        .iter()
        .any(|m| lower.contains(&m.to_ascii_lowercase()))
        && (lower.contains("atob(") || lower.contains("base64") || lower.contains("fromcharcode"));
    let obfuscated = (lower.contains("eval(") || lower.contains("document.write("))
        && (lower.contains("unescape(")
            || lower.contains("atob(")
            || lower.contains("fromcharcode"));
    if smuggling {
        cx.out.add(
            "attachment.html_smuggling",
            Category::Attachments,
            6,
            format!("the web page {name} builds a file inside the browser (HTML smuggling)"),
            format!("la pagina web {name} costruisce un file dentro il browser (HTML smuggling)"),
        );
    } else if obfuscated {
        cx.out.add(
            "attachment.html_obfuscated",
            Category::Attachments,
            4,
            format!("the web page {name} hides its content with obfuscated script"),
            format!("la pagina web {name} nasconde il contenuto con script offuscato"),
        );
    }
    links::html(cx, &text, sender_domain);
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// How [`yara`] names the message itself.
pub(crate) const MESSAGE: &str = "the message";

/// Findings for the YARA rules matching `data` (`what`: an attachment name or "the message").
pub(crate) fn yara(cx: &mut Context, rules: &crate::yara::YaraRules, what: &str, data: &[u8]) {
    let matches = rules.scan(data);
    if matches.is_empty() {
        return;
    }
    let named: Vec<String> = matches
        .iter()
        .take(5)
        .map(|m| match &m.author {
            Some(author) => format!("{} (by {author})", m.rule),
            None => m.rule.clone(),
        })
        .collect();
    let named = named.join(", ");
    cx.out.add(
        "attachment.yara",
        Category::Attachments,
        5,
        format!("{what} matches YARA rules for malicious content: {named}"),
        format!(
            "{} corrisponde a regole YARA per contenuti malevoli: {named}",
            if what == MESSAGE {
                "il messaggio"
            } else {
                what
            }
        ),
    );
}
