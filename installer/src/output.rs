//! Rendering: each command builds one result value that is `Serialize` (for `--output
//! json`) and renders as text here. stdout carries this result only.
//!
//! Text fits 80 columns, measured by display width (a Japanese character counts two):
//! `run` prints a matrix of short status cells with a legend, then the failures in
//! detail, the findings and a summary line; hops that pass and healthy paths only with
//! `--verbose`. Colour only when stdout is a terminal and `NO_COLOR` is unset. Every word
//! a person reads comes in English or Japanese (`--lang`, see `lang`).

use crate::cli::{Lang, OutputFormat};
use crate::commands::diagnose::DiagnoseResult;
use crate::lang::{self, tr};
use egress_probe::model::{
    Direction, Finding, FixProof, GapKind, HopVerdict, Observation, PathEvaluation, PathVerdict,
    Report, Status, Verdict,
};
use serde::Serialize;
use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::fmt::Write as _;
use unicode_width::{UnicodeWidthChar, UnicodeWidthStr};

/// Columns of the text output.
pub const WIDTH: usize = 80;
/// Where the fact-sheet rules (R1…) are explained, one anchor `#rN` per rule.
pub const RULES_DOC: &str = "docs/rules.md";
/// Display width of a matrix cell.
const CELL: usize = 5;

/// How text is drawn: language, detail and colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Style {
    pub lang: Lang,
    /// `--verbose`: every hop and the healthy paths too.
    pub verbose: bool,
    /// ANSI colour.
    pub color: bool,
}

impl Style {
    /// No colour, no extra detail.
    pub fn plain(lang: Lang) -> Self {
        Self {
            lang,
            verbose: false,
            color: false,
        }
    }

    /// Colour when stdout is a terminal and `NO_COLOR` is unset or empty (no-color.org).
    pub fn detect(lang: Lang, verbose: bool) -> Self {
        use std::io::IsTerminal;
        Self {
            lang,
            verbose,
            color: color_wanted(
                std::io::stdout().is_terminal(),
                std::env::var_os("NO_COLOR").as_deref(),
            ),
        }
    }

    fn tr(&self, en: &'static str, ja: &'static str) -> &'static str {
        tr(self.lang, en, ja)
    }

    fn paint(&self, text: &str, tone: Tone) -> String {
        if !self.color || text.is_empty() {
            return text.to_string();
        }
        let code = match tone {
            Tone::Good => "32",
            Tone::Bad => "31",
            Tone::Warn => "33",
            Tone::Bold => "1",
            Tone::Dim => "2",
            Tone::Plain => return text.to_string(),
        };
        format!("\x1b[{code}m{text}\x1b[0m")
    }
}

/// True when colour should be used.
pub fn color_wanted(stdout_is_terminal: bool, no_color: Option<&OsStr>) -> bool {
    stdout_is_terminal && no_color.is_none_or(OsStr::is_empty)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tone {
    Good,
    Bad,
    Warn,
    Bold,
    Dim,
    Plain,
}

/// A command's result.
pub trait Render: Serialize {
    fn text(&self, lang: Lang) -> String;
    /// The text with the full style (detail, colour); the plain text unless overridden.
    fn styled_text(&self, style: &Style) -> String {
        self.text(style.lang)
    }
}

/// Text or pretty JSON (always ending in a newline).
pub fn render<T: Render>(value: &T, format: OutputFormat, style: &Style) -> String {
    let mut s = match format {
        OutputFormat::Text => value.styled_text(style),
        OutputFormat::Json => serde_json::to_string_pretty(value)
            .unwrap_or_else(|e| format!("{{\"error\":\"cannot serialise result: {e}\"}}")),
    };
    if !s.ends_with('\n') {
        s.push('\n');
    }
    s
}

// ---------------------------------------------------------------------------------------
// Width-aware text pieces

/// Display width (East Asian wide characters count two columns, ANSI colour none).
pub fn width(s: &str) -> usize {
    if !s.contains('\x1b') {
        return UnicodeWidthStr::width(s);
    }
    let mut w = 0;
    let mut escape = false;
    for c in s.chars() {
        if escape {
            escape = c != 'm';
        } else if c == '\x1b' {
            escape = true;
        } else {
            w += c.width().unwrap_or(0);
        }
    }
    w
}

/// Short items joined by `sep`, wrapped between items (an item is never split).
pub fn wrap_items(first: &str, indent: usize, items: &[String], sep: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    // `fresh`: nothing on the line yet but its lead (`first` or the indent). The first
    // item moves to the next line too when it does not fit after a non-empty `first`.
    let mut fresh = true;
    let mut movable = !first.trim().is_empty();
    let glue = sep.trim_end();
    let gap = sep.len() - glue.len();
    for (i, item) in items.iter().enumerate() {
        let piece = if i + 1 < items.len() {
            format!("{item}{glue}")
        } else {
            item.clone()
        };
        let room = if fresh { 0 } else { gap };
        if (!fresh || movable) && width(&line) + room + width(&piece) > WIDTH {
            out.push_str(line.trim_end());
            out.push('\n');
            line = " ".repeat(indent);
            fresh = true;
        }
        movable = false;
        if !fresh {
            line.push_str(&" ".repeat(gap));
        }
        line.push_str(&piece);
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// `s` padded with spaces to `w` columns.
fn pad(s: &str, w: usize) -> String {
    let mut out = s.to_string();
    out.extend(std::iter::repeat_n(' ', w.saturating_sub(width(s))));
    out
}

/// Rows of cells aligned as columns (two spaces between them, each row starting with
/// `indent`), display-width aware: the text of each row, in order (one line, or more when
/// a row would pass 80 columns: its last cell then wraps under itself, never cut).
pub fn aligned(rows: &[Vec<String>], indent: &str) -> Vec<String> {
    let cols = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..cols)
        .map(|c| {
            rows.iter()
                .filter_map(|r| r.get(c))
                .map(|s| width(s))
                .max()
                .unwrap_or(0)
        })
        .collect();
    rows.iter()
        .map(|r| {
            let mut line = indent.to_string();
            let Some((last, rest)) = r.split_last() else {
                return "\n".to_string();
            };
            for (c, cell) in rest.iter().enumerate() {
                line.push_str(&pad(cell, widths[c]));
                line.push_str("  ");
            }
            let at = width(&line);
            wrap(&line, at.min(WIDTH / 2), last)
        })
        .collect()
}

/// `s` cut to at most `w` columns, ending in `…` when cut.
fn truncate(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let cw = c.width().unwrap_or(0);
        if used + cw + 1 > w {
            break;
        }
        out.push(c);
        used += cw;
    }
    out.push('…');
    out
}

/// Characters that never start a line (Japanese line-breaking rules, simplified).
fn no_line_start(c: char) -> bool {
    "、。，．）」』】：；！？ー・…".contains(c)
}

/// Breakable pieces of `text`: (preceded by a space, piece). Words break at spaces; wide
/// (Japanese) characters break between any two, except before closing punctuation.
fn pieces(text: &str) -> Vec<(bool, String)> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut space = false;
    let mut word = String::new();
    let mut word_space = false;
    for c in text.chars() {
        if c.is_whitespace() {
            if !word.is_empty() {
                out.push((word_space, std::mem::take(&mut word)));
            }
            space = true;
            continue;
        }
        let wide = c.width().unwrap_or(0) > 1;
        if wide
            && no_line_start(c)
            && word.is_empty()
            && !space
            && let Some(last) = out.last_mut()
        {
            last.1.push(c);
            continue;
        }
        if wide && !no_line_start(c) {
            if !word.is_empty() {
                out.push((word_space, std::mem::take(&mut word)));
            }
            out.push((space, c.to_string()));
            space = false;
            continue;
        }
        if wide && no_line_start(c) && !word.is_empty() {
            word.push(c);
            continue;
        }
        if word.is_empty() {
            word_space = space;
            // A word right after a wide character may start a new line.
        }
        word.push(c);
        space = false;
    }
    if !word.is_empty() {
        out.push((word_space, word));
    }
    out
}

/// `text` wrapped to `WIDTH` columns: the first line after `first`, the others after
/// `indent` spaces. Every line ends in a newline.
pub fn wrap(first: &str, indent: usize, text: &str) -> String {
    let mut out = String::new();
    let mut line = first.to_string();
    let mut used = width(first);
    let mut fresh = true;
    let margin = " ".repeat(indent);
    let mut flush = |line: &mut String, used: &mut usize, fresh: &mut bool| {
        out.push_str(line.trim_end());
        out.push('\n');
        *line = margin.clone();
        *used = indent;
        *fresh = true;
    };
    for (space, piece) in pieces(text) {
        let pw = width(&piece);
        let sep = usize::from(space && !fresh);
        if !fresh && used + sep + pw > WIDTH {
            flush(&mut line, &mut used, &mut fresh);
        }
        if fresh && used + pw > WIDTH {
            // Longer than a whole line: break it anywhere.
            for c in piece.chars() {
                let cw = c.width().unwrap_or(0);
                if !fresh && used + cw > WIDTH {
                    flush(&mut line, &mut used, &mut fresh);
                }
                line.push(c);
                used += cw;
                fresh = false;
            }
            continue;
        }
        if space && !fresh {
            line.push(' ');
            used += 1;
        }
        line.push_str(&piece);
        used += pw;
        fresh = false;
    }
    out.push_str(line.trim_end());
    out.push('\n');
    out
}

/// A shell command as lines of at most `WIDTH` columns that still paste as one command:
/// breaks between words end in ` \`; a word longer than a line continues at column 0
/// (closing and reopening a single quote when it is inside one). A trailing `  # note`
/// is printed as a comment line above the command.
fn command(cmd: &str) -> String {
    let mut out = String::new();
    let (cmd, note) = match cmd.split_once("  # ") {
        Some((c, n)) => (c.trim_end(), Some(n)),
        None => (cmd, None),
    };
    if let Some(n) = note {
        out.push_str(&wrap("    # ", 6, n));
    }
    let limit = WIDTH - 2; // room for ` \`
    let mut line = "    $ ".to_string();
    let mut fresh = true;
    for word in shell_words(cmd) {
        let ww = width(&word);
        if !fresh && width(&line) + 1 + ww > limit {
            out.push_str(&line);
            out.push_str(" \\\n");
            line = "        ".to_string();
            fresh = true;
        }
        if !fresh {
            line.push(' ');
        }
        if width(&line) + ww <= limit {
            line.push_str(&word);
        } else {
            split_word(&word, &mut line, &mut out, limit);
        }
        fresh = false;
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// Appends a word too long for one line, continuing it at column 0 with `\`.
fn split_word(word: &str, line: &mut String, out: &mut String, limit: usize) {
    let mut single = false;
    let mut double = false;
    let mut escaped = false;
    for c in word.chars() {
        if width(line) + 1 >= limit && !escaped {
            if single {
                out.push_str(line);
                out.push_str("'\\\n'");
            } else {
                out.push_str(line);
                out.push_str("\\\n");
            }
            line.clear();
        }
        line.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' && !single {
            escaped = true;
        } else if c == '\'' && !double {
            single = !single;
        } else if c == '"' && !single {
            double = !double;
        }
    }
}

/// Splits a command at spaces outside quotes.
fn shell_words(cmd: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let (mut single, mut double, mut escaped) = (false, false, false);
    for c in cmd.chars() {
        if c == ' ' && !single && !double && !escaped {
            if !word.is_empty() {
                words.push(std::mem::take(&mut word));
            }
            continue;
        }
        word.push(c);
        if escaped {
            escaped = false;
        } else if c == '\\' && !single {
            escaped = true;
        } else if c == '\'' && !double {
            single = !single;
        } else if c == '"' && !single {
            double = !double;
        }
    }
    if !word.is_empty() {
        words.push(word);
    }
    words
}

// ---------------------------------------------------------------------------------------
// The run matrix

/// One probe's outcome in a run: its report, or why there is none.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProbeRun {
    pub subnet_id: String,
    pub availability_zone: String,
    pub function: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// The invocation failed (API error, function error, unreadable answer).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The findings come from the installer's own snapshot (the probe could not diagnose).
    #[serde(default)]
    pub diagnosed_from_outside: bool,
}

impl ProbeRun {
    pub fn is_healthy(&self) -> bool {
        self.error.is_none()
            && self
                .report
                .as_ref()
                .is_some_and(|r| r.verdict == Verdict::Healthy)
    }

    fn verdict_text(&self, lang: Lang) -> (&'static str, Tone) {
        match (&self.report, &self.error) {
            (_, Some(_)) => (tr(lang, "error", "実行エラー"), Tone::Bad),
            (Some(r), None) => (
                lang::verdict(r.verdict, lang),
                match r.verdict {
                    Verdict::Healthy => Tone::Good,
                    Verdict::Degraded => Tone::Warn,
                    Verdict::Broken => Tone::Bad,
                },
            ),
            (None, None) => (tr(lang, "no report", "レポートなし"), Tone::Warn),
        }
    }
}

/// A latency in at most five columns: `3.2ms`, `42ms`, `1.2s`, `12s`.
fn latency(ms: f64) -> String {
    if ms < 9.95 {
        format!("{ms:.1}ms")
    } else if ms < 999.5 {
        format!("{ms:.0}ms")
    } else if ms < 9950.0 {
        format!("{:.1}s", ms / 1000.0)
    } else {
        format!("{:.0}s", ms / 1000.0)
    }
}

/// The finding that explains an observation, if any.
pub fn explaining<'a>(report: &'a Report, obs: &Observation) -> Option<&'a Finding> {
    report
        .findings
        .iter()
        .filter(|f| f.explains.iter().any(|e| e == &obs.id))
        .min_by_key(|f| f.severity)
}

/// A matrix cell: the slowest latency when every address answered, else the code of the
/// first failure (`TO`, `RF`, …) with `*` when some address answered, `-` not checked.
fn cell_of(report: &Report, target: &str) -> (String, Tone) {
    let obs: Vec<&Observation> = report
        .observations
        .iter()
        .filter(|o| o.target == target)
        .collect();
    if obs.is_empty() {
        return ("-".into(), Tone::Dim);
    }
    match obs.iter().find(|o| !o.status.is_ok()) {
        None => {
            let worst = obs.iter().map(|o| o.phases.total_ms).fold(0.0, f64::max);
            (latency(worst), Tone::Good)
        }
        Some(first) => {
            let mut s = lang::status_code(first.status).to_string();
            if obs.iter().any(|o| o.status.is_ok()) {
                s.push('*');
                (s, Tone::Warn)
            } else {
                (s, Tone::Bad)
            }
        }
    }
}

/// The text of one matrix cell (see `cell_of`).
pub fn cell(report: &Report, target: &str) -> String {
    cell_of(report, target).0
}

/// Targets in first-seen order over all reports.
fn columns(probes: &[ProbeRun]) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in probes.iter().filter_map(|p| p.report.as_ref()) {
        for t in r
            .plan
            .targets
            .iter()
            .map(|t| t.to_string())
            .chain(r.observations.iter().map(|o| o.target.clone()))
        {
            if seen.insert(t.clone()) {
                out.push(t);
            }
        }
    }
    out
}

fn sorted(probes: &[ProbeRun]) -> Vec<&ProbeRun> {
    let mut v: Vec<&ProbeRun> = probes.iter().collect();
    v.sort_by(|a, b| {
        (&a.availability_zone, &a.subnet_id).cmp(&(&b.availability_zone, &b.subnet_id))
    });
    v
}

/// The cells of one probe for `targets` (blank when it has no report).
fn cells(p: &ProbeRun, targets: &[String]) -> Vec<(String, Tone)> {
    targets
        .iter()
        .map(|t| match &p.report {
            Some(r) if p.error.is_none() => cell_of(r, t),
            _ => (String::new(), Tone::Plain),
        })
        .collect()
}

/// `text` in colour, padded to `w` columns outside the colour (so lines trim alike).
fn paint_pad(style: &Style, text: &str, w: usize, tone: Tone) -> String {
    let mut s = style.paint(text, tone);
    s.extend(std::iter::repeat_n(' ', w.saturating_sub(width(text))));
    s
}

fn cell_row(style: &Style, cells: &[(String, Tone)]) -> String {
    cells
        .iter()
        .map(|(text, tone)| paint_pad(style, text, CELL, *tone))
        .collect::<Vec<_>>()
        .join(" ")
}

/// The subnet x target matrix: one row per subnet under its AZ, one column per target
/// (numbered; the numbers are listed below it). When the targets do not fit in 80
/// columns the matrix is transposed (one row per target), and when neither fits the
/// targets are split over several blocks.
pub fn matrix(probes: &[ProbeRun], style: &Style) -> String {
    let targets = columns(probes);
    let rows = sorted(probes);
    let lang = style.lang;
    let subnet_h = tr(lang, "subnet", "サブネット");
    let verdict_h = tr(lang, "verdict", "判定");
    let sw = rows
        .iter()
        .map(|p| width(&p.subnet_id))
        .chain([width(subnet_h)])
        .max()
        .unwrap_or(0);
    let vw = rows
        .iter()
        .map(|p| width(p.verdict_text(lang).0))
        .chain([width(verdict_h)])
        .max()
        .unwrap_or(0);
    let label_w = 2 + sw + 2 + vw + 2;
    let fit = (WIDTH + 1).saturating_sub(label_w) / (CELL + 1);
    // Transposed: a row per target (number and name), a column per probe.
    let t_label_min = 24;
    let t_fit = (WIDTH + 1).saturating_sub(2 + 4 + t_label_min + 2) / (CELL + 1);
    let mut s = String::new();
    if targets.len() > fit && !rows.is_empty() && rows.len() <= t_fit {
        s.push_str(&transposed(&rows, &targets, style));
    } else {
        let per_block = fit.max(1);
        let blocks: Vec<(usize, &[String])> = targets
            .chunks(per_block)
            .enumerate()
            .map(|(i, c)| (i * per_block, c))
            .collect();
        let blocks = if blocks.is_empty() {
            vec![(0, &targets[..])]
        } else {
            blocks
        };
        for (bi, (offset, block)) in blocks.iter().enumerate() {
            if bi > 0 {
                s.push('\n');
            }
            let labels: Vec<(String, Tone)> = (0..block.len())
                .map(|i| ((offset + i + 1).to_string(), Tone::Bold))
                .collect();
            let head = format!("  {}  {}  ", pad(subnet_h, sw), pad(verdict_h, vw));
            let _ = writeln!(
                s,
                "{}{}",
                style.paint(&head, Tone::Bold),
                cell_row(style, &labels).trim_end()
            );
            let mut last_az: Option<&str> = None;
            for p in &rows {
                if last_az != Some(p.availability_zone.as_str()) {
                    let az = if p.availability_zone.is_empty() {
                        tr(lang, "(AZ unknown)", "（AZ 不明）").to_string()
                    } else {
                        p.availability_zone.clone()
                    };
                    let _ = writeln!(s, "{}", style.paint(&truncate(&az, WIDTH), Tone::Bold));
                    last_az = Some(p.availability_zone.as_str());
                }
                let (v, tone) = p.verdict_text(lang);
                let row = format!(
                    "  {}  {}  {}",
                    pad(&truncate(&p.subnet_id, sw), sw),
                    paint_pad(style, v, vw, tone),
                    cell_row(style, &cells(p, block))
                );
                let _ = writeln!(s, "{}", row.trim_end());
            }
        }
    }
    s.push_str(&targets_legend(&targets, style));
    s.push_str(&status_legend(probes, &targets, style));
    s
}

fn transposed(rows: &[&ProbeRun], targets: &[String], style: &Style) -> String {
    let lang = style.lang;
    let mut s = String::new();
    let cols_w = rows.len() * (CELL + 1);
    let name_w = WIDTH.saturating_sub(2 + 4 + 2 + cols_w);
    let labels: Vec<(String, Tone)> = (1..=rows.len())
        .map(|i| (format!("S{i}"), Tone::Bold))
        .collect();
    let head = format!("  {}  ", pad(tr(lang, "target", "ターゲット"), 4 + name_w));
    let _ = writeln!(
        s,
        "{}{}",
        style.paint(&head, Tone::Bold),
        cell_row(style, &labels).trim_end()
    );
    for (i, t) in targets.iter().enumerate() {
        let row_cells: Vec<(String, Tone)> = rows
            .iter()
            .map(|p| cells(p, std::slice::from_ref(t)).remove(0))
            .collect();
        let row = format!(
            "  {} {}  {}",
            pad(&(i + 1).to_string(), 3),
            pad(&truncate(t, name_w), name_w),
            cell_row(style, &row_cells)
        );
        let _ = writeln!(s, "{}", row.trim_end());
    }
    let _ = writeln!(
        s,
        "{}",
        style.paint(tr(lang, "Subnets", "サブネット"), Tone::Bold)
    );
    for (i, p) in rows.iter().enumerate() {
        let (v, tone) = p.verdict_text(lang);
        let line = format!(
            "  {} {}  {}  {}",
            pad(&format!("S{}", i + 1), 4),
            p.subnet_id,
            p.availability_zone,
            style.paint(v, tone)
        );
        s.push_str(&wrap("", 7, &line));
    }
    s
}

fn targets_legend(targets: &[String], style: &Style) -> String {
    let mut s = String::new();
    if targets.is_empty() {
        return s;
    }
    let _ = writeln!(
        s,
        "{}",
        style.paint(style.tr("Targets", "ターゲット"), Tone::Bold)
    );
    for (i, t) in targets.iter().enumerate() {
        s.push_str(&wrap(&format!("  {} ", pad(&(i + 1).to_string(), 3)), 6, t));
    }
    s
}

/// The legend: only the codes that appear.
fn status_legend(probes: &[ProbeRun], targets: &[String], style: &Style) -> String {
    let lang = style.lang;
    let mut statuses = BTreeSet::new();
    let (mut ok, mut partial, mut missing) = (false, false, false);
    for p in probes {
        for (text, _) in cells(p, targets) {
            if text == "-" {
                missing = true;
            }
            if text.ends_with('*') {
                partial = true;
            }
        }
        for o in p.report.iter().flat_map(|r| &r.observations) {
            if o.status.is_ok() {
                ok = true;
            } else {
                statuses.insert(lang::status_code(o.status));
            }
        }
    }
    let mut items: Vec<String> = Vec::new();
    if ok {
        items.push(
            tr(
                lang,
                "42ms = every address answered (slowest shown)",
                "42ms = 全アドレスが応答（最も遅い値）",
            )
            .into(),
        );
    }
    for st in lang::STATUSES {
        let code = lang::status_code(*st);
        if statuses.contains(code) {
            items.push(format!("{code} = {}", lang::status_name(*st, lang)));
        }
    }
    if partial {
        items.push(
            tr(
                lang,
                "* = some addresses answered",
                "* = 一部のアドレスは応答",
            )
            .into(),
        );
    }
    if missing {
        items.push(tr(lang, "- = not checked", "- = 未チェック").into());
    }
    if items.is_empty() {
        return String::new();
    }
    let label = format!("{}: ", tr(lang, "Legend", "凡例"));
    wrap_items(&label, 2, &items, tr(lang, "; ", "、"))
}

// ---------------------------------------------------------------------------------------
// Paths, failures, findings

/// A finding's summary in `lang` (English when the report carries no translation).
pub fn summary(f: &Finding, lang: Lang) -> &str {
    match (lang, &f.summary_ja) {
        (Lang::Ja, Some(ja)) if !ja.is_empty() => ja,
        _ => &f.summary,
    }
}

/// `R12` as `R12 (docs/rules.md#r12)`; other references as they are.
fn rule_ref(rule: &str) -> String {
    match rule.strip_prefix('R') {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            format!("{rule} ({RULES_DOC}#r{n})")
        }
        _ => rule.to_string(),
    }
}

/// A path: its verdict, then hop by hop; the first blocking (else partial) hop is marked
/// `<-- breaks here`. Without `verbose` the hops that pass are counted, not listed.
pub fn path(p: &PathEvaluation, style: &Style) -> String {
    let lang = style.lang;
    let mut s = String::new();
    let tone = match p.verdict {
        PathVerdict::Reachable => Tone::Good,
        PathVerdict::Blocked => Tone::Bad,
        PathVerdict::Intermittent | PathVerdict::NotVerifiable => Tone::Warn,
    };
    let head = format!(
        "{} {} -> {} {}/{}: ",
        tr(lang, "path", "経路"),
        p.subnet_id,
        p.destination,
        p.protocol,
        p.port,
    );
    s.push_str(&wrap(
        "    ",
        6,
        &format!(
            "{head}{}",
            style.paint(lang::path_verdict(p.verdict, lang), tone)
        ),
    ));
    let breaking = p
        .hops
        .iter()
        .position(|h| h.verdict == HopVerdict::Block)
        .or_else(|| p.hops.iter().position(|h| h.verdict == HopVerdict::Partial));
    let mut hidden = 0;
    for (i, h) in p.hops.iter().enumerate() {
        if !style.verbose && h.verdict == HopVerdict::Pass {
            hidden += 1;
            continue;
        }
        let dir = match h.direction {
            Direction::Forward => "->",
            Direction::Return => "<-",
        };
        let tone = match h.verdict {
            HopVerdict::Pass => Tone::Good,
            HopVerdict::Block => Tone::Bad,
            HopVerdict::Partial | HopVerdict::Unknown => Tone::Warn,
        };
        let name = lang::component(&h.component, lang);
        let verdict = lang::hop_verdict(h.verdict, lang);
        let mark = if Some(i) == breaking {
            tr(lang, "  <-- breaks here", "  <-- ここで途切れる")
        } else {
            ""
        };
        let plain = format!(
            "    {:>2} {dir} {} {}  {verdict}{mark}",
            i + 1,
            pad(&name, 16),
            h.id
        );
        if width(&plain) <= WIDTH {
            let _ = writeln!(
                s,
                "    {:>2} {dir} {} {}  {}{mark}",
                i + 1,
                pad(&name, 16),
                h.id,
                style.paint(verdict, tone)
            );
        } else {
            s.push_str(&wrap(
                &format!("    {:>2} {dir} ", i + 1),
                10,
                &format!("{name} {}  {}{mark}", h.id, style.paint(verdict, tone)),
            ));
        }
        let mut detail = String::new();
        if let Some(statement) = lang::hop_statement(&h.component, h.verdict, lang) {
            detail.push_str(statement);
            detail.push_str(tr(lang, ": ", "："));
        }
        detail.push_str(&h.decided_by);
        if !h.rules.is_empty() {
            let _ = write!(detail, " [{}]", h.rules.join(", "));
        }
        s.push_str(&wrap("          ", 10, &detail));
    }
    if hidden > 0 {
        let note = match lang {
            Lang::En => format!("(hops that pass: {hidden}; --verbose lists them)"),
            Lang::Ja => format!("（通過するホップ {hidden} 個は省略。--verbose ですべて表示）"),
        };
        s.push_str(&wrap("          ", 10, &note));
    }
    s
}

/// The path evaluation that belongs to an observation.
pub fn path_for<'a>(report: &'a Report, obs: &Observation) -> Option<&'a PathEvaluation> {
    let subnet = report.identity.subnet_id.as_deref();
    let candidates = report
        .paths
        .iter()
        .filter(|p| subnet.is_none_or(|s| p.subnet_id == s))
        .filter(|p| p.target.as_deref().is_none_or(|t| t == obs.target));
    let mut best = None;
    for p in candidates {
        match obs.address {
            Some(a) if p.destination == a => return Some(p),
            _ => {
                if best.is_none() && obs.port.is_none_or(|port| port == p.port) {
                    best = Some(p);
                }
            }
        }
    }
    best
}

/// One finding: severity, code and subnet, the summary, resources, rules (with a pointer
/// to docs/rules.md), the remediation in `lang` and the commands that would fix it.
pub fn finding(f: &Finding, style: &Style) -> String {
    let lang = style.lang;
    let mut s = String::new();
    let tone = match f.severity {
        egress_probe::model::Severity::Error => Tone::Bad,
        egress_probe::model::Severity::Warning => Tone::Warn,
        egress_probe::model::Severity::Info => Tone::Plain,
    };
    let where_ = f
        .subnet_id
        .as_deref()
        .map(|x| format!(" ({x})"))
        .unwrap_or_default();
    let head = format!("[{}] {}{where_}", lang::severity(f.severity, lang), f.code);
    let _ = writeln!(s, "{}", style.paint(&truncate(&head, WIDTH), tone));
    s.push_str(&wrap("    ", 4, summary(f, lang)));
    if !f.resources.is_empty() {
        let label = format!("    {}: ", tr(lang, "resources", "リソース"));
        s.push_str(&wrap(&label, 6, &f.resources.join(", ")));
    }
    if !f.rules.is_empty() {
        let label = format!("    {}: ", tr(lang, "rules", "ルール"));
        let rules: Vec<String> = f.rules.iter().map(|r| rule_ref(r)).collect();
        s.push_str(&wrap(&label, 6, &rules.join(", ")));
    }
    let text = match lang {
        Lang::En => &f.remediation.en,
        Lang::Ja => &f.remediation.ja,
    };
    let label = format!("    {}: ", tr(lang, "fix", "対処"));
    s.push_str(&wrap(&label, 6, text));
    for c in &f.fix_commands {
        s.push_str(&command(c));
    }
    s
}

/// Findings of several reports, once each (same code, subnet and resources).
pub fn unique_findings<'a>(
    reports: impl Iterator<Item = &'a Report>,
) -> Vec<(&'a Finding, Option<&'a FixProof>)> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::new();
    for r in reports {
        for (i, f) in r.findings.iter().enumerate() {
            let key = (f.code.clone(), f.subnet_id.clone(), f.resources.clone());
            if seen.insert(key) {
                out.push((f, r.fix_proofs.iter().find(|p| p.finding == i)));
            }
        }
    }
    out.sort_by_key(|(f, _)| f.severity);
    out
}

/// Failed observations of one target that read the same (status, cause).
struct FailureGroup<'a> {
    target: &'a str,
    status: Status,
    cause: Option<&'a Finding>,
    observations: Vec<&'a Observation>,
}

fn failure_groups(r: &Report) -> Vec<FailureGroup<'_>> {
    let mut groups: Vec<FailureGroup<'_>> = Vec::new();
    for o in r.observations.iter().filter(|o| !o.status.is_ok()) {
        let cause = explaining(r, o);
        let code = cause.map(|f| f.code.as_str());
        match groups.iter_mut().find(|g| {
            g.target == o.target && g.status == o.status && g.cause.map(|f| f.code.as_str()) == code
        }) {
            Some(g) => g.observations.push(o),
            None => groups.push(FailureGroup {
                target: &o.target,
                status: o.status,
                cause,
                observations: vec![o],
            }),
        }
    }
    groups
}

/// Each probe with failures: the failed checks (grouped by target, status and cause),
/// the cause, and the path with the hop where it breaks.
pub fn failures(probes: &[ProbeRun], style: &Style) -> String {
    let lang = style.lang;
    let targets = columns(probes);
    let mut s = String::new();
    for p in sorted(probes) {
        let groups = p.report.as_ref().map(failure_groups).unwrap_or_default();
        if groups.is_empty() && p.error.is_none() && p.report.is_some() {
            continue;
        }
        let (v, tone) = p.verdict_text(lang);
        let az = if p.availability_zone.is_empty() {
            String::new()
        } else {
            format!(" ({})", p.availability_zone)
        };
        s.push_str(&wrap(
            "",
            2,
            &format!("{}{az}: {}", p.subnet_id, style.paint(v, tone)),
        ));
        if let Some(e) = &p.error {
            s.push_str(&wrap("  ", 4, &format!("{}: {e}", p.function)));
            continue;
        }
        let Some(r) = &p.report else {
            continue;
        };
        for g in groups {
            let n = targets
                .iter()
                .position(|t| t == g.target)
                .map(|i| format!("{} ", i + 1))
                .unwrap_or_default();
            let mut addrs: Vec<String> = g
                .observations
                .iter()
                .filter_map(|o| o.address.map(|a| a.to_string()))
                .collect();
            addrs.dedup();
            let at = if addrs.is_empty() {
                String::new()
            } else {
                format!(" -> {}", addrs.join(", "))
            };
            let first = g.observations[0];
            let os = first
                .os_error
                .as_deref()
                .map(|e| format!(" ({e})"))
                .unwrap_or_default();
            let detail = first
                .detail
                .as_deref()
                .map(|d| format!(": {d}"))
                .unwrap_or_default();
            let line = format!(
                "{n}{}{at}: {}{os}{detail}",
                g.target,
                style.paint(lang::status_name(g.status, lang), Tone::Bad)
            );
            s.push_str(&wrap("  ", 4, &line));
            let cause_label = format!("    {}: ", tr(lang, "cause", "原因"));
            match g.cause {
                Some(f) => s.push_str(&wrap(
                    &cause_label,
                    6,
                    &format!("{}: {}", f.code, summary(f, lang)),
                )),
                None if g.status == Status::CutShort => s.push_str(&wrap(
                    &cause_label,
                    6,
                    tr(
                        lang,
                        "the invocation ran out of time",
                        "呼び出しの残り時間がなくなりました",
                    ),
                )),
                None => {}
            }
            let mut shown: Vec<&PathEvaluation> = Vec::new();
            for o in &g.observations {
                if let Some(pe) = path_for(r, o)
                    && !shown.iter().any(|x| std::ptr::eq(*x, pe))
                {
                    shown.push(pe);
                }
            }
            if shown.is_empty() {
                let why = r.analysis.reason.as_deref().unwrap_or(tr(
                    lang,
                    "no path evaluation in the report",
                    "レポートに経路の評価がありません",
                ));
                let label = format!("    {}: ", tr(lang, "path", "経路"));
                let text = format!("{} ({why})", tr(lang, "not evaluated", "未評価"));
                s.push_str(&wrap(&label, 6, &text));
            }
            for pe in shown {
                s.push_str(&path(pe, style));
            }
        }
    }
    s
}

/// With `--verbose`: the paths of the checks that worked.
fn healthy_paths(probes: &[ProbeRun], style: &Style) -> String {
    let mut s = String::new();
    for p in sorted(probes) {
        let Some(r) = &p.report else { continue };
        let failed: Vec<&PathEvaluation> = r
            .observations
            .iter()
            .filter(|o| !o.status.is_ok())
            .filter_map(|o| path_for(r, o))
            .collect();
        for pe in r
            .paths
            .iter()
            .filter(|pe| !failed.iter().any(|f| std::ptr::eq(*f, *pe)))
        {
            if let Some(t) = &pe.target {
                s.push_str(&wrap("  ", 4, t));
            }
            s.push_str(&path(pe, style));
        }
    }
    s
}

/// Summary counts of a run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct RunSummary {
    pub probes: usize,
    pub healthy: usize,
    pub failing: usize,
    pub errors: usize,
}

pub fn summarize(probes: &[ProbeRun]) -> RunSummary {
    RunSummary {
        probes: probes.len(),
        healthy: probes.iter().filter(|p| p.is_healthy()).count(),
        failing: probes
            .iter()
            .filter(|p| p.error.is_none() && p.report.is_some() && !p.is_healthy())
            .count(),
        errors: probes.iter().filter(|p| p.error.is_some()).count(),
    }
}

/// The summary line of a run.
pub fn summary_line(sum: &RunSummary, lang: Lang) -> String {
    match lang {
        Lang::En => format!(
            "{} probes: {} healthy, {} failing, {} could not be run",
            sum.probes, sum.healthy, sum.failing, sum.errors
        ),
        Lang::Ja => format!(
            "プローブ {} 件：正常 {}、障害 {}、実行できず {}",
            sum.probes, sum.healthy, sum.failing, sum.errors
        ),
    }
}

fn heading(s: &mut String, style: &Style, en: &'static str, ja: &'static str) {
    let _ = writeln!(s, "\n{}", style.paint(style.tr(en, ja), Tone::Bold));
}

/// The whole text of a run: matrix and legend, failures with their paths, findings,
/// (with `--verbose`) healthy paths, and the summary line.
pub fn run_text(probes: &[ProbeRun], style: &Style) -> String {
    let mut s = matrix(probes, style);
    let fails = failures(probes, style);
    if !fails.is_empty() {
        heading(&mut s, style, "Failures", "失敗したチェック");
        s.push_str(&fails);
    }
    let findings = unique_findings(probes.iter().filter_map(|p| p.report.as_ref()));
    if !findings.is_empty() {
        heading(&mut s, style, "Findings", "検出事項");
        for (f, proof) in findings {
            s.push_str(&finding(f, style));
            fix_proof_line(&mut s, f, proof, style, true);
        }
    }
    if style.verbose {
        let healthy = healthy_paths(probes, style);
        if !healthy.is_empty() {
            heading(&mut s, style, "Healthy paths", "正常な経路");
            s.push_str(&healthy);
        }
    }
    let _ = writeln!(s, "\n{}", summary_line(&summarize(probes), style.lang));
    s
}

/// The text of `diagnose`: scope, notes and gaps, the paths that do not work (all paths
/// with `--verbose`), the findings.
pub fn diagnose_text(d: &DiagnoseResult, style: &Style) -> String {
    let lang = style.lang;
    let mut s = String::new();
    let head = match lang {
        Lang::En => format!("Diagnosis of {} (from {})", d.scope, d.source),
        Lang::Ja => format!("{} の診断（{} から）", d.scope, d.source),
    };
    s.push_str(&wrap("", 2, &style.paint(&head, Tone::Bold)));
    let none = "-".to_string();
    let label = format!("  {}: ", tr(lang, "subnets", "サブネット"));
    s.push_str(&wrap(&label, 4, &d.subnet_ids.join(", ")));
    let label = format!(
        "  {}: ",
        tr(lang, "security groups", "セキュリティグループ")
    );
    let groups = if d.security_group_ids.is_empty() {
        none
    } else {
        d.security_group_ids.join(", ")
    };
    s.push_str(&wrap(&label, 4, &groups));
    if let Some(p) = &d.saved_snapshot {
        let text = match lang {
            Lang::En => format!("snapshot saved to {p}"),
            Lang::Ja => format!("スナップショットを {p} に保存しました"),
        };
        s.push_str(&wrap("  ", 4, &text));
    }
    for n in &d.notes {
        s.push_str(&wrap(&format!("  {}: ", tr(lang, "note", "注記")), 4, n));
    }
    for g in &d.gaps {
        let text = format!("{} ({:?}): {}", g.call, g.kind, g.reason);
        s.push_str(&wrap(
            &format!("  {}: ", tr(lang, "gap", "取得できなかった情報")),
            4,
            &text,
        ));
    }
    let shown: Vec<&PathEvaluation> = d
        .paths
        .iter()
        .filter(|p| style.verbose || p.verdict != PathVerdict::Reachable)
        .collect();
    if !shown.is_empty() {
        heading(&mut s, style, "Paths", "経路");
        for p in &shown {
            if let Some(t) = &p.target {
                s.push_str(&wrap("  ", 4, t));
            }
            s.push_str(&path(p, style));
        }
    }
    let hidden = d.paths.len() - shown.len();
    if hidden > 0 {
        let text = match lang {
            Lang::En => format!("{hidden} reachable path(s) not shown; --verbose lists them."),
            Lang::Ja => format!("到達可能な経路 {hidden} 件は省略。--verbose で表示します。"),
        };
        s.push('\n');
        s.push_str(&wrap("", 0, &text));
    }
    if d.findings.is_empty() && d.incomplete() {
        s.push('\n');
        s.push_str(&wrap(
            "",
            0,
            tr(
                lang,
                "No findings in what could be read, but the analysis is incomplete: the calls listed as gaps were denied or failed (give the caller those permissions, or retry).",
                "読み取れた範囲に検出事項はありませんが、分析は不完全です：ギャップとして示した呼び出しが拒否または失敗しました（呼び出し元にその権限を付与するか、再試行してください）。",
            ),
        ));
    } else if d.findings.is_empty() && !d.partial() {
        s.push('\n');
        s.push_str(&wrap(
            "",
            0,
            tr(
                lang,
                "No findings: the configuration allows every evaluated path.",
                "検出事項なし：評価したすべての経路を設定が許可しています。",
            ),
        ));
    } else {
        heading(&mut s, style, "Findings", "検出事項");
        for (i, f) in d.findings.iter().enumerate() {
            s.push_str(&finding(f, style));
            // Issue 11: what the simulation of the printed fix found.
            let proof = d.fix_proofs.iter().find(|p| p.finding == i);
            fix_proof_line(&mut s, f, proof, style, false);
        }
    }
    if let Some(w) = &d.what_if {
        s.push_str(&what_if_text(w, style));
    }
    if d.partial() {
        s.push_str(&not_evaluated_text(d, lang));
    }
    s
}

/// Issue 11: under a finding, what the simulation of its printed fix found; a printed
/// command with no proof (no change behind it, or a report of an older probe) is never
/// shown as if it were proven.
fn fix_proof_line(
    s: &mut String,
    f: &Finding,
    proof: Option<&FixProof>,
    style: &Style,
    from_probe: bool,
) {
    if let Some(p) = proof {
        let tone = if p.proven() { Tone::Good } else { Tone::Warn };
        let text = p.text(style.lang == Lang::Ja);
        s.push_str(&style.paint(&wrap("    ", 6, &text), tone));
    } else if let Some(why) = egress_probe::diagnosis::advice_only(&f.code) {
        // Advice (commands that look, or a change outside what the snapshot models):
        // said as such, so it is not read as a proven change.
        if !f.fix_commands.is_empty() {
            let text = match style.lang {
                Lang::En => format!("advice, not simulated: {why}"),
                Lang::Ja => "助言のみ：シミュレーションの対象外です".to_string(),
            };
            s.push_str(&style.paint(&wrap("    ", 6, &text), Tone::Dim));
        }
    } else if !f.fix_commands.is_empty() {
        let text = not_simulated_text(&f.fix_commands, style.lang, from_probe);
        s.push_str(&style.paint(&wrap("    ", 6, &text), Tone::Warn));
    }
}

/// Said under a fix whose commands were not simulated: the values they leave for the
/// operator (`<…>`) are named, so nobody pastes them unchecked (issue 11). `from_probe`:
/// a probe's report (`run`), which `diagnose` can simulate.
fn not_simulated_text(commands: &[String], lang: Lang, from_probe: bool) -> String {
    let mut holes: Vec<&str> = Vec::new();
    for c in commands {
        let mut rest = c.as_str();
        while let Some(start) = rest.find('<') {
            let Some(len) = rest[start..].find('>') else {
                break;
            };
            let hole = &rest[start..start + len + 1];
            if !holes.contains(&hole) {
                holes.push(hole);
            }
            rest = &rest[start + len + 1..];
        }
    }
    if from_probe {
        let need = match (lang, holes.is_empty()) {
            (_, true) => String::new(),
            (Lang::En, false) => format!(" (the commands need {})", holes.join(", ")),
            (Lang::Ja, false) => format!("（コマンドには {} が必要）", holes.join("、")),
        };
        return match lang {
            Lang::En => format!(
                "not simulated{need}: `egress-probe diagnose` simulates the fix on the \
                 whole VPC before you run it"
            ),
            Lang::Ja => format!(
                "シミュレーションしていません{need}：実行前に `egress-probe diagnose` で\
                 VPC 全体に対してシミュレーションしてください"
            ),
        };
    }
    match (lang, holes.is_empty()) {
        (Lang::En, true) => "not simulated: check the change before running it".into(),
        (Lang::En, false) => format!(
            "not simulated: the commands need {}, which the snapshot does not hold; fill it \
             in and try it with --what-if first",
            holes.join(", ")
        ),
        (Lang::Ja, true) => "シミュレーションしていません：実行前に変更を確認してください".into(),
        (Lang::Ja, false) => format!(
            "シミュレーションしていません：コマンドにはスナップショットにない値 {} が必要です。\
             値を入れて、まず --what-if で試してください",
            holes.join("、")
        ),
    }
}

/// `--what-if`: per subnet and target, what the changes fix or break (issue 11).
fn what_if_text(w: &egress_probe::diagnosis::simulate::WhatIf, style: &Style) -> String {
    let lang = style.lang;
    let mut s = String::new();
    heading(&mut s, style, "What if", "変更した場合");
    if let Some(r) = &w.refused {
        let text = match lang {
            Lang::En => format!("The change cannot be applied: {r}. Nothing was simulated."),
            Lang::Ja => format!("この変更は適用できません：{r}。シミュレーションしていません。"),
        };
        s.push_str(&style.paint(&wrap("  ", 4, &text), Tone::Bad));
        return s;
    }
    if w.effects.is_empty() {
        let text = match lang {
            Lang::En => format!(
                "Breaks nothing and fixes nothing on the {} subnet(s) whose paths it crosses.",
                w.evaluated_subnets
            ),
            Lang::Ja => format!(
                "経路が通る {} 個のサブネットで、壊すものも直すものもありません。",
                w.evaluated_subnets
            ),
        };
        s.push_str(&style.paint(&wrap("  ", 4, &text), Tone::Good));
        return s;
    }
    for e in &w.effects {
        let (word, tone) = match (e.effect, lang) {
            ("breaks", Lang::En) => ("breaks", Tone::Bad),
            ("breaks", Lang::Ja) => ("壊す", Tone::Bad),
            ("opens", Lang::En) => ("opens", Tone::Warn),
            ("opens", Lang::Ja) => ("開く", Tone::Warn),
            (_, Lang::En) => ("fixes", Tone::Good),
            (_, Lang::Ja) => ("直す", Tone::Good),
        };
        let text = format!("{} {} {}: {}", e.subnet_id, e.target, word, e.detail);
        s.push_str(&style.paint(&wrap("  ", 4, &text), tone));
    }
    s
}

/// Issue 11: what was not evaluated is named, and never reported healthy (exit 3 when
/// nothing else is wrong).
fn not_evaluated_text(d: &DiagnoseResult, lang: Lang) -> String {
    let mut what: Vec<String> = Vec::new();
    if !d.not_evaluated.is_empty() {
        let names = d.not_evaluated.join(", ");
        what.push(match lang {
            Lang::En => format!("{names} could not be resolved here"),
            Lang::Ja => format!("{names} をここで名前解決できませんでした"),
        });
    } else if d.paths.is_empty() {
        what.push(
            tr(
                lang,
                "no target gave a path to evaluate",
                "評価できる経路を生んだターゲットがありません",
            )
            .to_string(),
        );
    }
    let calls: Vec<&str> = d
        .gaps
        .iter()
        .filter(|g| g.kind == GapKind::Unsupported)
        .map(|g| g.call.as_str())
        .collect();
    if !calls.is_empty() {
        let calls = calls.join(", ");
        what.push(match lang {
            Lang::En => format!("the endpoint does not support {calls}"),
            Lang::Ja => format!("エンドポイントが {calls} に対応していません"),
        });
    }
    let what = what.join(tr(lang, "; ", "。"));
    let text = match (lang, d.exit_code()) {
        (Lang::En, 3) => format!(
            "Not evaluated: {what}. What was evaluated has no error, but this is not a healthy result (exit 3)."
        ),
        (Lang::En, _) => format!("Not evaluated: {what}."),
        (Lang::Ja, 3) => format!(
            "未評価：{what}。評価した範囲にエラーはありませんが、正常という結果ではありません（終了コード 3）。"
        ),
        (Lang::Ja, _) => format!("未評価：{what}。"),
    };
    format!("\n{}", wrap("", 0, &text))
}

#[cfg(test)]
pub(crate) mod fixtures {
    //! Hand-built reports: two AZs, one subnet broken by a NAT route blackhole.
    use egress_probe::model::*;

    pub fn obs(id: &str, target: &str, status: Status, ms: f64) -> Observation {
        Observation {
            id: id.into(),
            target: target.into(),
            kind: if target.starts_with("dns:") {
                CheckKind::Dns
            } else {
                CheckKind::Tcp
            },
            host: "example.com".into(),
            port: if target.starts_with("dns:") {
                None
            } else {
                Some(443)
            },
            address: if target.starts_with("dns:") {
                None
            } else {
                Some("192.0.2.10".parse().unwrap())
            },
            family: None,
            status,
            failed_phase: None,
            os_error: if status == Status::Timeout {
                Some("ETIMEDOUT".into())
            } else {
                None
            },
            detail: None,
            phases: Phases {
                total_ms: ms,
                ..Default::default()
            },
            http_status: None,
            proxy: None,
            dns: None,
            timeout_ms: 3000,
        }
    }

    pub fn report(subnet: &str, az: &str, broken: bool) -> Report {
        let targets = vec![
            Target::Dns {
                name: "example.com".into(),
            },
            Target::Tcp {
                host: "example.com".into(),
                port: 443,
            },
        ];
        let tcp_id = format!("tcp://example.com:443@192.0.2.10#{subnet}");
        let observations = vec![
            obs(&format!("dns#{subnet}"), "dns:example.com", Status::Ok, 3.2),
            obs(
                &tcp_id,
                "tcp://example.com:443",
                if broken { Status::Timeout } else { Status::Ok },
                if broken { 3000.0 } else { 41.7 },
            ),
        ];
        let (findings, paths) = if broken {
            (
                vec![Finding {
                    code: "NAT_ROUTE_BLACKHOLE".into(),
                    severity: Severity::Error,
                    confirmation: Confirmation::Confirmed,
                    summary: "0.0.0.0/0 points at deleted NAT gateway nat-0dead".into(),
                    summary_ja: Some(
                        "0.0.0.0/0 が削除済みの NAT ゲートウェイ nat-0dead を指しています".into(),
                    ),
                    subnet_id: Some(subnet.into()),
                    resources: vec!["rtb-0b".into(), "nat-0dead".into()],
                    rules: vec!["R8".into()],
                    explains: vec![tcp_id.clone()],
                    remediation: Remediation {
                        en: "Point 0.0.0.0/0 at an available NAT gateway.".into(),
                        ja: "0.0.0.0/0 を利用可能な NAT ゲートウェイに向けてください。".into(),
                    },
                    fix_commands: vec![
                        "aws ec2 replace-route --route-table-id rtb-0b --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-0live".into(),
                    ],
                }],
                vec![PathEvaluation {
                    subnet_id: subnet.into(),
                    target: Some("tcp://example.com:443".into()),
                    destination: "192.0.2.10".parse().unwrap(),
                    protocol: "tcp".into(),
                    port: 443,
                    family: Family::Ipv4,
                    verdict: PathVerdict::Blocked,
                    hops: vec![
                        Hop {
                            direction: Direction::Forward,
                            component: "security_group".into(),
                            id: "sg-0probe".into(),
                            subnet_id: Some(subnet.into()),
                            verdict: HopVerdict::Pass,
                            decided_by: "egress all 0.0.0.0/0".into(),
                            rules: vec!["R19".into()],
                        },
                        Hop {
                            direction: Direction::Forward,
                            component: "route_table".into(),
                            id: "rtb-0b".into(),
                            subnet_id: Some(subnet.into()),
                            verdict: HopVerdict::Block,
                            decided_by: "0.0.0.0/0 -> nat-0dead (blackhole)".into(),
                            rules: vec!["R8".into()],
                        },
                    ],
                }],
            )
        } else {
            (vec![], vec![])
        };
        Report {
            schema: REPORT_SCHEMA.into(),
            probe_version: "0.1.0".into(),
            identity: Identity {
                function_name: Some(format!("egress-probe-{subnet}")),
                subnet_id: Some(subnet.into()),
                availability_zone: Some(az.into()),
                vpc_id: Some("vpc-1".into()),
                ..Default::default()
            },
            started_at: "2026-01-01T00:00:00Z".into(),
            duration_ms: 100.0,
            budget_ms: 18000,
            resolver: ResolverInfo::default(),
            plan: Plan {
                targets,
                dns_timeout_ms: 2000,
                connect_timeout_ms: 3000,
                https_timeout_ms: 5000,
                diagnose: DiagnoseMode::OnFailure,
                source: "defaults".into(),
            },
            observations,
            verdict: if broken {
                Verdict::Broken
            } else {
                Verdict::Healthy
            },
            findings,
            paths,
            fix_proofs: vec![],
            analysis: Analysis {
                status: AnalysisStatus::Complete,
                reason: None,
                gaps: vec![],
                api_calls: 9,
                duration_ms: 80.0,
                performed_by: Some("probe".into()),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::fixtures::{obs, report};
    use super::*;
    use egress_probe::model::{Hop, Target};

    fn plain() -> Style {
        Style::plain(Lang::En)
    }

    fn probes() -> Vec<ProbeRun> {
        [
            ("subnet-b1", "us-east-1b", true),
            ("subnet-a1", "us-east-1a", false),
            ("subnet-a2", "us-east-1a", false),
        ]
        .iter()
        .map(|(s, az, broken)| run_of(s, az, report(s, az, *broken)))
        .collect()
    }

    fn run_of(subnet: &str, az: &str, report: Report) -> ProbeRun {
        ProbeRun {
            subnet_id: subnet.to_string(),
            availability_zone: az.to_string(),
            function: format!("egress-probe-{subnet}"),
            report: Some(report),
            error: None,
            diagnosed_from_outside: false,
        }
    }

    /// A report over `targets` with realistic IDs; `broken` subnets time out on every
    /// TCP/HTTPS target, explained by a blackhole route with a long fix command, a
    /// function-state finding whose fix command has a quoted word longer than a line, and
    /// a path of twelve hops.
    fn realistic(subnet: &str, az: &str, broken: bool, targets: &[Target]) -> Report {
        let mut r = report(subnet, az, false);
        r.plan.targets = targets.to_vec();
        r.observations = Vec::new();
        r.findings = Vec::new();
        r.paths = Vec::new();
        let mut explained = Vec::new();
        for (i, t) in targets.iter().enumerate() {
            let target = t.to_string();
            let fails = broken && !matches!(t, Target::Dns { .. });
            for addr in ["192.0.2.10", "192.0.2.11"] {
                let id = format!("{target}@{addr}#{subnet}");
                let mut o = obs(
                    &id,
                    &target,
                    if fails { Status::Timeout } else { Status::Ok },
                    if fails {
                        3000.0
                    } else {
                        10.0 + i as f64 * 37.3
                    },
                );
                if matches!(t, Target::Dns { .. }) {
                    o.address = None;
                    o.port = None;
                } else {
                    o.address = addr.parse().ok();
                }
                if fails {
                    explained.push(id.clone());
                    r.paths.push(PathEvaluation {
                        subnet_id: subnet.into(),
                        target: Some(target.clone()),
                        destination: addr.parse().unwrap(),
                        protocol: "tcp".into(),
                        port: t.port().unwrap_or(443),
                        family: egress_probe::model::Family::Ipv4,
                        verdict: PathVerdict::Blocked,
                        hops: twelve_hops(subnet),
                    });
                }
                r.observations.push(o);
                if matches!(t, Target::Dns { .. }) {
                    break;
                }
            }
        }
        if broken {
            r.verdict = Verdict::Broken;
            r.findings.push(Finding {
                code: "NAT_ROUTE_BLACKHOLE".into(),
                severity: egress_probe::model::Severity::Error,
                confirmation: egress_probe::model::Confirmation::Confirmed,
                summary: format!("rtb-0123456789abcdef0: 0.0.0.0/0 -> nat-0123456789abcdef0 (blackhole) (used by {subnet}) is a blackhole: its target no longer exists"),
                summary_ja: Some(format!("rtb-0123456789abcdef0: 0.0.0.0/0 -> nat-0123456789abcdef0 (blackhole)（{subnet} が使用）はブラックホールです。ターゲットはもう存在しません")),
                subnet_id: Some(subnet.into()),
                resources: vec!["rtb-0123456789abcdef0".into(), "nat-0123456789abcdef0".into()],
                rules: vec!["R8".into()],
                explains: explained,
                remediation: egress_probe::model::Remediation {
                    en: "Re-point the route at an available NAT gateway; nat-0fedcba9876543210 is available in the same AZ.".into(),
                    ja: "ルートを利用可能な NAT ゲートウェイに向け直してください。同じ AZ の nat-0fedcba9876543210 が利用可能です。".into(),
                },
                fix_commands: vec![
                    "aws ec2 replace-route --route-table-id rtb-0123456789abcdef0 --destination-cidr-block 0.0.0.0/0 --nat-gateway-id nat-0fedcba9876543210".into(),
                    format!("aws ec2 associate-route-table --route-table-id <new-rtb-id> --subnet-id {subnet}  # or replace-route-table-association if {subnet} is explicitly associated"),
                ],
            });
            r.findings.push(Finding {
                code: "FUNCTION_NOT_ACTIVE".into(),
                severity: egress_probe::model::Severity::Error,
                confirmation: egress_probe::model::Confirmation::NotApplicable,
                summary: "egress-probe-fn is not active (Inactive, Idle)".into(),
                summary_ja: Some("egress-probe-fn はアクティブではありません（Inactive、Idle）".into()),
                subnet_id: None,
                resources: vec!["egress-probe-fn".into()],
                rules: vec!["R1".into(), "R2".into(), "acl-0123456789abcdef0 #100".into()],
                explains: vec![],
                remediation: egress_probe::model::Remediation {
                    en: "Invoke it once.".into(),
                    ja: "一度呼び出してください。".into(),
                },
                fix_commands: vec!["aws lambda get-function-configuration --function-name egress-probe-subnet-0123456789abcdef0 --query '[State,StateReasonCode,StateReason,LastUpdateStatus,LastUpdateStatusReasonCode]'".into()],
            });
        }
        r
    }

    fn twelve_hops(subnet: &str) -> Vec<Hop> {
        let kinds = [
            ("eni", "eni-0123456789abcdef0"),
            ("security_group", "sg-0123456789abcdef0"),
            ("nacl_out", "acl-0123456789abcdef0"),
            ("route_table", "rtb-0123456789abcdef0"),
            ("nat_gateway", "nat-0123456789abcdef0"),
            ("nacl_in", "acl-0aaaaaaaaaaaaaaaa"),
            ("nacl_out", "acl-0aaaaaaaaaaaaaaaa"),
            ("route_table", "rtb-0aaaaaaaaaaaaaaaa"),
            ("internet_gateway", "igw-0123456789abcdef0"),
            ("block_public_access", "igw-0123456789abcdef0"),
            ("egress_only_internet_gateway", "eigw-0123456789abcdef0"),
            ("nacl_in", "acl-0123456789abcdef0"),
        ];
        kinds
            .iter()
            .enumerate()
            .map(|(i, (kind, id))| Hop {
                direction: if i == 11 { Direction::Return } else { Direction::Forward },
                component: kind.to_string(),
                id: id.to_string(),
                subnet_id: Some(subnet.into()),
                verdict: match i {
                    3 => HopVerdict::Block,
                    11 => HopVerdict::Partial,
                    _ => HopVerdict::Pass,
                },
                decided_by: format!("tcp out to 10.0.128.0/17,192.0.2.10 ports 443: {id} rule 100 allow tcp 1024-65535 0.0.0.0/0 (hop {i})"),
                rules: vec!["R20".into(), "R21".into()],
            })
            .collect()
    }

    /// `n` subnets over three AZs with realistic IDs; every third is broken.
    fn fleet(n: usize, targets: &[Target]) -> Vec<ProbeRun> {
        (0..n)
            .map(|i| {
                let subnet = format!("subnet-0{:016x}", 0x1234_5678_9abc_def0_u64 + i as u64);
                let az = format!("ap-southeast-{}{}", 1 + i % 2, ["a", "b", "c"][i % 3]);
                run_of(&subnet, &az, realistic(&subnet, &az, i % 3 == 0, targets))
            })
            .collect()
    }

    fn assert_fits(text: &str) {
        for line in text.lines() {
            assert!(
                width(line) <= WIDTH,
                "{} columns: {line:?}\n{text}",
                width(line)
            );
        }
    }

    /// Removes ANSI colour sequences.
    fn strip_ansi(s: &str) -> String {
        let mut out = String::new();
        let mut chars = s.chars();
        while let Some(c) = chars.next() {
            if c == '\x1b' {
                for d in chars.by_ref() {
                    if d == 'm' {
                        break;
                    }
                }
            } else {
                out.push(c);
            }
        }
        out
    }

    #[test]
    fn cells_show_latency_or_a_failure_code() {
        let ok = report("subnet-a1", "us-east-1a", false);
        assert_eq!(cell(&ok, "tcp://example.com:443"), "42ms");
        assert_eq!(cell(&ok, "dns:example.com"), "3.2ms");
        assert_eq!(cell(&ok, "https://nothing/"), "-");
        let bad = report("subnet-b1", "us-east-1b", true);
        assert_eq!(cell(&bad, "tcp://example.com:443"), "TO");
        let mut partial = bad.clone();
        let mut extra = partial.observations[1].clone();
        extra.status = Status::Ok;
        partial.observations.push(extra);
        assert_eq!(cell(&partial, "tcp://example.com:443"), "TO*");
        for ms in [0.4, 9.9, 42.0, 999.0, 1234.0, 12_345.0, 900_000.0] {
            assert!(latency(ms).len() <= CELL, "{ms}: {}", latency(ms));
        }
    }

    #[test]
    fn matrix_groups_rows_by_az() {
        let m = matrix(&probes(), &plain());
        let lines: Vec<&str> = m.lines().collect();
        let pos = |needle: &str| lines.iter().position(|l| l.contains(needle)).unwrap();
        let (az_a, a1, a2, az_b, b1) = (
            pos("us-east-1a"),
            pos("subnet-a1"),
            pos("subnet-a2"),
            pos("us-east-1b"),
            pos("subnet-b1"),
        );
        assert!(az_a < a1 && a1 < a2 && a2 < az_b && az_b < b1, "{m}");
        // The AZ is printed once per group.
        assert_eq!(m.matches("us-east-1a").count(), 1, "{m}");
        assert!(
            lines[b1].contains("broken") && lines[b1].contains("TO"),
            "{m}"
        );
        assert!(
            lines[a1].contains("healthy") && lines[a1].contains("42ms"),
            "{m}"
        );
        // Columns are numbered; the numbers name the targets below.
        assert!(m.contains("  1   dns:example.com"), "{m}");
        assert!(m.contains("  2   tcp://example.com:443"), "{m}");
        assert!(m.contains("TO = timed out (no answer)"), "{m}");
        assert!(
            !m.contains("RF ="),
            "only codes that appear are explained:\n{m}"
        );
    }

    #[test]
    fn every_line_fits_80_columns_and_failures_keep_cause_and_fix() {
        let defaults = egress_probe::settings::default_targets("ap-southeast-1");
        let fleet = fleet(7, &defaults);
        for lang in [Lang::En, Lang::Ja] {
            for verbose in [false, true] {
                let style = Style {
                    lang,
                    verbose,
                    color: false,
                };
                let text = run_text(&fleet, &style);
                assert_fits(&text);
                // Every subnet is a row of the matrix; every default target is listed.
                for p in &fleet {
                    assert!(text.contains(&p.subnet_id), "{text}");
                }
                for t in &defaults {
                    assert!(text.contains(&t.to_string()), "{t}: {text}");
                }
                // Failures still name their cause and fix; the breaking hop is marked.
                assert!(text.contains("NAT_ROUTE_BLACKHOLE"), "{text}");
                assert!(text.contains("$ aws ec2 replace-route"), "{text}");
                assert!(text.contains("rtb-0123456789abcdef0"), "{text}");
                let mark = tr(lang, "<-- breaks here", "<-- ここで途切れる");
                let breaking = text.lines().find(|l| l.contains(mark)).unwrap();
                assert!(breaking.contains("rtb-0123456789abcdef0"), "{breaking}");
                assert!(text.contains("R8 (docs/rules.md#r8)"), "{text}");
                // Hops that pass only with --verbose.
                let pass = lang::hop_verdict(HopVerdict::Pass, lang);
                let pass_lines = text.lines().filter(|l| l.ends_with(pass)).count();
                if verbose {
                    assert!(pass_lines >= 10, "{text}");
                } else {
                    assert_eq!(pass_lines, 0, "{text}");
                    assert!(text.contains("--verbose"), "{text}");
                }
            }
        }
        // The old layout was 117-210 columns for this.
        let colored = run_text(
            &fleet,
            &Style {
                lang: Lang::En,
                verbose: true,
                color: true,
            },
        );
        assert!(colored.contains("\x1b[31m"), "red for failures");
        assert_fits(&strip_ansi(&colored));
    }

    #[test]
    fn many_targets_transpose_or_split_and_still_fit() {
        let targets: Vec<Target> = (0..14)
            .map(|i| {
                format!("https://service-{i}.internal.example.com:8443/health/check/endpoint")
                    .parse()
                    .unwrap()
            })
            .collect();
        // Few subnets: one row per target.
        let few = fleet(3, &targets);
        let m = matrix(&few, &plain());
        assert_fits(&m);
        assert!(m.contains("S1") && m.contains("S3"), "{m}");
        let row14 = m.lines().find(|l| l.starts_with("  14 ")).unwrap();
        assert!(row14.contains("TO") && row14.contains("ms"), "{row14}");
        // Many subnets and many targets: the targets are split over several blocks.
        let many = fleet(12, &targets);
        let m = matrix(&many, &plain());
        assert_fits(&m);
        for p in &many {
            assert!(m.matches(p.subnet_id.as_str()).count() >= 2, "{m}");
        }
        let header_of_last = m.lines().filter(|l| l.contains(" 14")).count();
        assert!(header_of_last >= 1, "{m}");
        assert_fits(&run_text(&many, &plain()));
    }

    /// Issue 11: the findings of a probe's report come with the fix the probe derived,
    /// which only `diagnose` simulates: `run` says so under each one with commands, in
    /// both languages, within 80 columns.
    #[test]
    fn probe_fixes_are_said_to_be_unsimulated_in_run() {
        let p = probes();
        let with_fix = p
            .iter()
            .filter_map(|r| r.report.as_ref())
            .flat_map(|r| &r.findings)
            .filter(|f| !f.fix_commands.is_empty())
            .count();
        assert!(with_fix > 0, "the fixture has a finding with a fix");
        let text = run_text(&p, &plain());
        assert_fits(&text);
        let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains(
                "not simulated: `egress-probe diagnose` simulates the fix on the whole VPC \
                 before you run it"
            ),
            "{text}"
        );
        let ja = run_text(&p, &Style::plain(Lang::Ja));
        assert_fits(&ja);
        assert!(ja.contains("シミュレーションしていません"), "{ja}");
        // A probe that simulated its fixes: the proof is said instead.
        let mut p = p;
        for r in p.iter_mut().filter_map(|r| r.report.as_mut()) {
            r.fix_proofs = r
                .findings
                .iter()
                .enumerate()
                .filter(|(_, f)| !f.fix_commands.is_empty())
                .map(|(i, f)| FixProof {
                    finding: i,
                    code: f.code.clone(),
                    subnet_id: f.subnet_id.clone(),
                    alternative: 0,
                    changes: vec![],
                    clears: true,
                    breaks: vec![],
                    refused: None,
                    evaluated_subnets: 2,
                    side_effects: vec![],
                })
                .collect();
        }
        let text = run_text(&p, &plain());
        assert_fits(&text);
        assert!(text.contains("simulated: clears"), "{text}");
        assert!(!text.contains("not simulated"), "{text}");
    }

    #[test]
    fn failure_path_marks_the_breaking_hop() {
        let text = run_text(&probes(), &plain());
        let hop = text
            .lines()
            .find(|l| l.contains("rtb-0b") && l.contains("BLOCK"))
            .unwrap();
        assert!(hop.ends_with("<-- breaks here"), "{hop}");
        // The security group passes: counted, not listed, without --verbose.
        assert!(!text.contains("sg-0probe"), "{text}");
        assert!(
            text.contains("(hops that pass: 1; --verbose lists them)"),
            "{text}"
        );
        let verbose = run_text(
            &probes(),
            &Style {
                verbose: true,
                ..plain()
            },
        );
        let sg = verbose.lines().find(|l| l.contains("sg-0probe")).unwrap();
        assert!(!sg.contains("breaks here"), "{sg}");
        assert!(text.contains("subnet-b1 (us-east-1b): broken"), "{text}");
        assert!(
            text.contains(
                "  2 tcp://example.com:443 -> 192.0.2.10: timed out (no answer) (ETIMEDOUT)"
            ),
            "{text}"
        );
        assert!(
            text.contains("cause: NAT_ROUTE_BLACKHOLE: 0.0.0.0/0 points at deleted NAT gateway\n"),
            "{text}"
        );
        assert!(text.contains("[error] NAT_ROUTE_BLACKHOLE (subnet-b1)"));
        assert!(text.contains("fix: Point 0.0.0.0/0 at an available NAT gateway."));
        assert!(text.contains("$ aws ec2 replace-route --route-table-id rtb-0b"));
        assert!(text.contains("3 probes: 2 healthy, 1 failing, 0 could not be run"));
    }

    #[test]
    fn japanese_translates_everything_a_person_reads() {
        let defaults = egress_probe::settings::default_targets("ap-northeast-1");
        let fleet = fleet(4, &defaults);
        let ja = run_text(&fleet, &Style::plain(Lang::Ja));
        for word in [
            "サブネット",
            "判定",
            "正常",
            "障害",
            "ターゲット",
            "凡例",
            "TO = タイムアウト（応答なし）",
            "失敗したチェック",
            "原因: NAT_ROUTE_BLACKHOLE: rtb-0123456789abcdef0",
            "ブラックホールです",
            "経路 subnet-",
            "遮断",
            "ルートテーブル",
            "宛先への有効なルートがありません：",
            "ネットワーク ACL（受信）",
            "インバウンドルールがエフェメラルポートの一部のみ許可しています",
            "検出事項",
            "[エラー] NAT_ROUTE_BLACKHOLE",
            "ルール: R8 (docs/rules.md#r8)",
            "対処: ルートを利用可能な NAT ゲートウェイに向け直してください。",
            "プローブ 4 件：正常 2、障害 2、実行できず 0",
        ] {
            assert!(ja.contains(word), "{word} missing:\n{ja}");
        }
        for english in [
            "Failures",
            "Findings",
            "Legend",
            "Targets",
            "healthy",
            "broken",
            "timed out",
            "cause:",
            "fix:",
            "rules:",
            "breaks here",
            "route table",
            "probes:",
            "is a blackhole",
            "Re-point",
        ] {
            assert!(!ja.contains(english), "{english} left in English:\n{ja}");
        }
        assert_fits(&ja);
    }

    #[test]
    fn japanese_falls_back_to_english_for_an_untranslated_summary() {
        let mut f = report("subnet-b1", "us-east-1b", true).findings.remove(0);
        f.summary_ja = None;
        assert_eq!(summary(&f, Lang::Ja), f.summary);
        f.summary_ja = Some("要約".into());
        assert_eq!(summary(&f, Lang::Ja), "要約");
        assert_eq!(summary(&f, Lang::En), f.summary);
    }

    #[test]
    fn colour_only_on_a_terminal_without_no_color() {
        assert!(color_wanted(true, None));
        assert!(color_wanted(true, Some(OsStr::new(""))));
        assert!(!color_wanted(true, Some(OsStr::new("1"))));
        assert!(!color_wanted(false, None));
        let plain_text = run_text(&probes(), &plain());
        assert!(!plain_text.contains('\x1b'));
        let colored = run_text(
            &probes(),
            &Style {
                color: true,
                ..plain()
            },
        );
        assert!(colored.contains("\x1b[32m") && colored.contains("\x1b[31m"));
        assert_eq!(strip_ansi(&colored), plain_text);
    }

    /// What a shell makes of wrapped command lines.
    fn unwrap_shell(text: &str) -> String {
        let mut s = text
            .trim_start()
            .trim_start_matches("$ ")
            .trim_end()
            .to_string();
        // Word breaks: ` \` + newline + indentation is one space.
        while let Some(i) = s.find(" \\\n") {
            let rest = s[i + 3..].trim_start().to_string();
            s = format!("{} {rest}", &s[..i]);
        }
        s.replace("'\\\n'", "").replace("\\\n", "")
    }

    #[test]
    fn fix_commands_wrap_and_still_paste_as_one_command() {
        let long_query = "aws lambda get-function-configuration --function-name egress-probe-subnet-0123456789abcdef0 --query '[State,StateReasonCode,StateReason,LastUpdateStatus,LastUpdateStatusReasonCode]'";
        let vpc = format!(
            "aws lambda update-function-configuration --function-name f --vpc-config SubnetIds={},SecurityGroupIds=sg-0123456789abcdef0",
            (0..4)
                .map(|i| format!("subnet-0123456789abcde{i:02}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let dns = "aws ec2 modify-vpc-attribute --vpc-id vpc-0123456789abcdef0 --enable-dns-support \"{\\\"Value\\\":true}\"";
        for c in [
            long_query,
            vpc.as_str(),
            dns,
            "aws ec2 attach-internet-gateway --internet-gateway-id igw-1 --vpc-id vpc-1",
        ] {
            let text = command(c);
            assert_fits(&text);
            assert_eq!(unwrap_shell(&text), c, "{text}");
        }
        let noted = command(
            "aws ec2 associate-route-table --route-table-id <new-rtb-id> --subnet-id subnet-1  # or replace-route-table-association if subnet-1 is explicitly associated",
        );
        assert!(
            noted.starts_with("    # or replace-route-table-association"),
            "{noted}"
        );
        // The note is a comment line of its own; the command after it pastes as one.
        let (note, cmd) = noted.split_once('\n').unwrap();
        assert!(!note.contains("aws ec2"), "{noted}");
        assert_eq!(
            unwrap_shell(cmd),
            "aws ec2 associate-route-table --route-table-id <new-rtb-id> --subnet-id subnet-1"
        );
    }

    #[test]
    fn wrapping_counts_display_width() {
        let ja = "宛先のファイアウォール／許可リスト（NAT ゲートウェイのパブリック IP）、NAT のポート枯渇（CloudWatch の ErrorPortAllocation、PacketsDropCount）、大きなパケットの IP フラグメンテーション（R33）を確認してください。";
        let text = wrap("    対処: ", 6, ja);
        assert_fits(&text);
        assert!(text.lines().count() >= 3, "{text}");
        // No line starts with closing punctuation.
        for l in text.lines().skip(1) {
            let first = l.trim_start().chars().next().unwrap();
            assert!(!no_line_start(first), "{l}");
        }
        // Nothing is lost but spaces.
        let joined: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let want: String = format!("対処:{ja}")
            .chars()
            .filter(|c| !c.is_whitespace())
            .collect();
        assert_eq!(joined, want);
        assert_eq!(wrap("", 2, &"x".repeat(200)).lines().count(), 3);
    }

    #[test]
    fn invocation_errors_are_rows_too() {
        let mut p = probes();
        p[1].report = None;
        p[1].error = Some("lambda:Invoke failed: TooManyRequestsException".into());
        let text = run_text(&p, &plain());
        let row = text.lines().find(|l| l.contains("subnet-a1")).unwrap();
        assert!(row.contains("error"), "{row}");
        assert!(
            text.contains("egress-probe-subnet-a1: lambda:Invoke failed: TooManyRequestsException"),
            "{text}"
        );
        assert_eq!(
            summarize(&p),
            RunSummary {
                probes: 3,
                healthy: 1,
                failing: 1,
                errors: 1
            }
        );
    }
}
