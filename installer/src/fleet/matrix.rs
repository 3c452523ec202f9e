//! The fleet's result: one entry per account and Region (a whole account when its role or
//! Region list failed), rows per Availability Zone, the summary, the text (a summary table
//! account → Region → AZ first, then details of failures only; 80 columns) and the JSON
//! lines (one object per account and Region, then one summary object).

use super::credentials::FailureKind;
use crate::cli::Lang;
use crate::exit;
use crate::lang::{Said, tr};
use crate::output::{WIDTH, width, wrap};
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Exit codes of fleet commands (README "Exit codes"), beyond 0, 1 and 2.
pub mod code {
    /// Partial results: some account or Region could not be done (denied, throttled,
    /// unreachable, failed, or some of its steps not done); the others' results are
    /// printed, and no failure was found in them.
    pub const PARTIAL: u8 = 3;
    /// Partial results, and failures found among the accounts and Regions that answered.
    pub const PARTIAL_WITH_FAILURES: u8 = 4;
}

/// How one account and Region ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum UnitState {
    /// Done; healthy; nothing to change.
    Ok,
    /// Dry run: changes planned (nothing changed).
    Planned,
    /// Nothing of egress-probe's there.
    #[serde(rename = "none")]
    Empty,
    /// Done, and failures found (broken egress, blocked paths).
    #[serde(rename = "failing")]
    Failures,
    /// Done in part: some steps or probes failed (see the details).
    #[serde(rename = "partial")]
    Incomplete,
    Denied,
    Throttled,
    Unreachable,
    Error,
}

impl UnitState {
    pub fn as_str(self) -> &'static str {
        match self {
            UnitState::Ok => "ok",
            UnitState::Planned => "planned",
            UnitState::Empty => "none",
            UnitState::Failures => "FAILING",
            UnitState::Incomplete => "partial",
            UnitState::Denied => "denied",
            UnitState::Throttled => "throttled",
            UnitState::Unreachable => "unreachable",
            UnitState::Error => "error",
        }
    }

    /// The state in the text's language (`as_str` in English; JSON keeps `as_str`).
    pub fn words(self, lang: Lang) -> &'static str {
        match lang {
            Lang::En => self.as_str(),
            Lang::Ja => match self {
                UnitState::Ok => "正常",
                UnitState::Planned => "計画",
                UnitState::Empty => "なし",
                UnitState::Failures => "障害あり",
                UnitState::Incomplete => "一部のみ",
                UnitState::Denied => "拒否",
                // The table leaves 11 columns for the state (80 in all).
                UnitState::Throttled => "スロットル",
                UnitState::Unreachable => "到達不可",
                UnitState::Error => "エラー",
            },
        }
    }

    /// Every state, in the order of the summary line.
    pub const ALL: [UnitState; 9] = [
        UnitState::Ok,
        UnitState::Planned,
        UnitState::Empty,
        UnitState::Failures,
        UnitState::Incomplete,
        UnitState::Denied,
        UnitState::Throttled,
        UnitState::Unreachable,
        UnitState::Error,
    ];

    pub fn of_failure(kind: FailureKind) -> UnitState {
        match kind {
            FailureKind::Denied => UnitState::Denied,
            FailureKind::Throttled => UnitState::Throttled,
            FailureKind::Unreachable => UnitState::Unreachable,
            FailureKind::Error => UnitState::Error,
        }
    }

    /// The unit was not done at all.
    pub fn not_done(self) -> bool {
        matches!(
            self,
            UnitState::Denied | UnitState::Throttled | UnitState::Unreachable | UnitState::Error
        )
    }
}

/// Counts of one Availability Zone (what they count depends on the command; see
/// `Columns`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct AzRow {
    pub availability_zone: String,
    pub total: usize,
    pub good: usize,
    pub bad: usize,
    pub errors: usize,
}

/// One account and Region.
#[derive(Debug, Clone, Serialize)]
pub struct UnitReport {
    pub account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub account_name: Option<String>,
    /// `None`: the account failed before any Region.
    pub region: Option<String>,
    pub state: UnitState,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Changes made there (also when it failed part-way).
    pub changes: Vec<String>,
    pub rows: Vec<AzRow>,
    /// Text lines about what failed (or, in a dry run, what is planned).
    #[serde(skip)]
    pub details: Vec<String>,
    /// The command's own result there (as its single-account JSON); null when not done.
    pub result: serde_json::Value,
}

/// What the four count columns mean for a command (at most 5 characters each).
#[derive(Debug, Clone, Copy)]
pub struct Columns {
    pub names: [&'static str; 4],
    pub legend: &'static str,
    /// The legend in Japanese (`--lang ja`); the column names stay as they are.
    pub legend_ja: &'static str,
}

/// The whole fleet result.
#[derive(Debug, Clone, Serialize)]
pub struct FleetResult {
    pub command: String,
    pub dry_run: bool,
    pub role_name: Option<String>,
    pub accounts: usize,
    pub regions: Vec<String>,
    /// Accounts left out (not active), and other notes (JSON: the English).
    pub notes: Vec<Said>,
    pub summary: Summary,
    pub units: Vec<UnitReport>,
    #[serde(skip)]
    pub columns: Option<Columns>,
    /// The language of the text (`--lang`); JSON is the same in both.
    #[serde(skip)]
    pub lang: Lang,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    /// Account-Regions (plus accounts that failed before any Region).
    pub units: usize,
    pub by_state: BTreeMap<String, usize>,
    pub total: usize,
    pub good: usize,
    pub bad: usize,
    pub errors: usize,
    pub exit_code: u8,
}

impl FleetResult {
    pub fn new(command: &str, dry_run: bool, columns: Columns, units: Vec<UnitReport>) -> Self {
        let mut regions: Vec<String> = units.iter().filter_map(|u| u.region.clone()).collect();
        regions.sort();
        regions.dedup();
        let mut accounts: Vec<&str> = units.iter().map(|u| u.account.as_str()).collect();
        accounts.dedup();
        let mut r = FleetResult {
            command: command.into(),
            dry_run,
            role_name: None,
            accounts: accounts.len(),
            regions,
            notes: Vec::new(),
            summary: Summary::default(),
            units,
            columns: Some(columns),
            lang: Lang::En,
        };
        r.summary = r.summarize();
        r
    }

    fn summarize(&self) -> Summary {
        let mut s = Summary {
            units: self.units.len(),
            ..Summary::default()
        };
        for u in &self.units {
            *s.by_state
                .entry(u.state.as_str().to_lowercase())
                .or_default() += 1;
            for r in &u.rows {
                s.total += r.total;
                s.good += r.good;
                s.bad += r.bad;
                s.errors += r.errors;
            }
        }
        s.exit_code = exit_code(&self.units, self.command == "run");
        s
    }

    /// The text: header, the summary table, details of failures only, the summary line;
    /// in the language of `self.lang`, 80 display columns.
    pub fn text(&self) -> String {
        let lang = self.lang;
        let columns = self.columns.unwrap_or(Columns {
            names: ["total", "good", "bad", "err"],
            legend: "",
            legend_ja: "",
        });
        let mut s = String::new();
        let head = match lang {
            Lang::En => format!(
                "egress-probe {}{}: {} account(s) x {} Region(s)",
                self.command,
                if self.dry_run {
                    " (plan, nothing changed)"
                } else {
                    ""
                },
                self.accounts,
                self.regions.len(),
            ),
            Lang::Ja => format!(
                "egress-probe {}{}：{} アカウント × {} リージョン",
                self.command,
                if self.dry_run {
                    "（計画のみ、変更なし）"
                } else {
                    ""
                },
                self.accounts,
                self.regions.len(),
            ),
        };
        s.push_str(&wrap("", 2, &head));
        let _ = writeln!(
            s,
            "{} {} {} {:>5} {:>5} {:>5} {:>5}  {}",
            pad(tr(lang, "account", "アカウント"), 12),
            pad(tr(lang, "Region", "リージョン"), 14),
            pad("AZ", 15),
            columns.names[0],
            columns.names[1],
            columns.names[2],
            columns.names[3],
            tr(lang, "state", "状態"),
        );
        let mut last_account = "";
        let mut last_region: Option<&str> = None;
        for u in &self.units {
            let account = if u.account != last_account {
                last_region = None;
                u.account.as_str()
            } else {
                ""
            };
            last_account = &u.account;
            let region_name = u.region.as_deref().unwrap_or("*");
            let region = if Some(region_name) != last_region {
                region_name
            } else {
                ""
            };
            last_region = Some(region_name);
            if u.rows.is_empty() {
                let _ = writeln!(
                    s,
                    "{:<12} {:<14} {:<15} {:>5} {:>5} {:>5} {:>5}  {}",
                    account,
                    fit(region, 14),
                    "-",
                    "-",
                    "-",
                    "-",
                    "-",
                    u.state.words(lang)
                );
                continue;
            }
            for (i, r) in u.rows.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "{:<12} {:<14} {:<15} {:>5} {:>5} {:>5} {:>5}  {}",
                    if i == 0 { account } else { "" },
                    if i == 0 {
                        fit(region, 14)
                    } else {
                        String::new()
                    },
                    fit(&r.availability_zone, 15),
                    r.total,
                    r.good,
                    r.bad,
                    r.errors,
                    if i == 0 { u.state.words(lang) } else { "" }
                );
            }
        }
        let legend = tr(lang, columns.legend, columns.legend_ja);
        if !legend.is_empty() {
            s.push_str(&wrap("", 2, legend));
        }
        let failed: Vec<&UnitReport> = self
            .units
            .iter()
            .filter(|u| u.error.is_some() || !u.details.is_empty())
            .collect();
        if !failed.is_empty() {
            let title = if self.dry_run {
                tr(lang, "\nPlan and failures:", "\n計画と失敗：")
            } else {
                tr(lang, "\nDetails (failures only):", "\n詳細（失敗のみ）：")
            };
            let _ = writeln!(s, "{title}");
            for u in failed {
                let place = format!(
                    "{} {}",
                    u.account,
                    u.region
                        .as_deref()
                        .unwrap_or(tr(lang, "(every Region)", "（全リージョン）"))
                );
                if let Some(e) = &u.error {
                    s.push_str(&wrap(
                        "",
                        2,
                        &format!("{place}: {}: {e}", u.state.words(lang)),
                    ));
                } else {
                    s.push_str(&wrap("", 2, &format!("{place}: {}", u.state.words(lang))));
                }
                for c in &u.changes {
                    if u.state != UnitState::Ok {
                        s.push_str(&wrap(
                            "    ",
                            6,
                            &format!(
                                "{} {c}",
                                tr(lang, "changed before that:", "それまでに変更済み：")
                            ),
                        ));
                    }
                }
                for d in &u.details {
                    for line in d.lines() {
                        if width(line) + 4 <= WIDTH {
                            let _ = writeln!(s, "    {line}");
                        } else {
                            s.push_str(&wrap("    ", 6, line.trim_start()));
                        }
                    }
                }
            }
        }
        for n in &self.notes {
            s.push_str(&wrap(tr(lang, "note: ", "注意："), 6, n.get(lang)));
        }
        let states: Vec<String> = UnitState::ALL
            .iter()
            .filter_map(|st| {
                let n = self.units.iter().filter(|u| u.state == *st).count();
                (n > 0).then(|| match lang {
                    Lang::En => format!("{n} {}", st.as_str().to_lowercase()),
                    Lang::Ja => format!("{} {n}", st.words(lang)),
                })
            })
            .collect();
        s.push('\n');
        let line = match lang {
            Lang::En => format!(
                "{} account-Region(s): {}. Exit {}: {}",
                self.summary.units,
                states.join(", "),
                self.summary.exit_code,
                exit_meaning(self.summary.exit_code, lang)
            ),
            Lang::Ja => format!(
                "アカウント・リージョン {} 件：{}。終了コード {}：{}",
                self.summary.units,
                states.join("、"),
                self.summary.exit_code,
                exit_meaning(self.summary.exit_code, lang)
            ),
        };
        s.push_str(&wrap("", 2, &line));
        s.lines().map(|l| format!("{}\n", l.trim_end())).collect()
    }

    /// JSON lines: one object per unit (`"type":"unit"`), then the summary
    /// (`"type":"summary"`).
    pub fn json_lines(&self) -> String {
        let mut s = String::new();
        for u in &self.units {
            let mut v = serde_json::to_value(u).unwrap_or(serde_json::Value::Null);
            if let Some(o) = v.as_object_mut() {
                o.insert("type".into(), "unit".into());
                o.insert("command".into(), self.command.clone().into());
            }
            s.push_str(&v.to_string());
            s.push('\n');
        }
        let v = serde_json::json!({
            "type": "summary",
            "command": self.command,
            "dry_run": self.dry_run,
            "role_name": self.role_name,
            "accounts": self.accounts,
            "regions": self.regions,
            "notes": self.notes,
            "summary": self.summary,
        });
        s.push_str(&v.to_string());
        s.push('\n');
        s
    }
}

/// A cell cut to `w` columns.
fn fit(s: &str, w: usize) -> String {
    if width(s) <= w {
        return s.to_string();
    }
    let mut out = String::new();
    for c in s.chars() {
        if width(&out) + 1 >= w {
            break;
        }
        out.push(c);
    }
    out.push('~');
    out
}

/// A cell padded to `w` display columns (wide characters count two).
fn pad(s: &str, w: usize) -> String {
    format!("{s}{}", " ".repeat(w.saturating_sub(width(s))))
}

/// The words for an exit code of a fleet command.
pub fn exit_meaning(code: u8, lang: Lang) -> &'static str {
    match code {
        exit::OK => tr(lang, "done, healthy", "完了、正常"),
        exit::FAILURES => tr(lang, "failures found", "障害あり"),
        exit::ERROR => tr(lang, "nothing could be done", "何もできなかった"),
        code::PARTIAL => tr(
            lang,
            "partial results (some account-Regions not done)",
            "一部の結果（実行できなかったアカウント・リージョンあり）",
        ),
        code::PARTIAL_WITH_FAILURES => tr(
            lang,
            "partial results, and failures found",
            "一部の結果、障害あり",
        ),
        _ => "",
    }
}

/// 0 every unit done and healthy; 1 failures found, every unit done; 2 no unit done (or,
/// for `run`, no probe anywhere); 3 some units not done (denied, throttled, unreachable,
/// failed, or steps not done), no failure found in the others; 4 the same with failures.
pub fn exit_code(units: &[UnitReport], needs_something: bool) -> u8 {
    if units.is_empty() || units.iter().all(|u| u.state.not_done()) {
        return exit::ERROR;
    }
    let partial = units
        .iter()
        .any(|u| u.state.not_done() || u.state == UnitState::Incomplete);
    let failures = units.iter().any(|u| u.state == UnitState::Failures);
    if needs_something && !partial && units.iter().all(|u| u.state == UnitState::Empty) {
        return exit::ERROR;
    }
    match (partial, failures) {
        (true, true) => code::PARTIAL_WITH_FAILURES,
        (true, false) => code::PARTIAL,
        (false, true) => exit::FAILURES,
        (false, false) => exit::OK,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(account: &str, region: Option<&str>, state: UnitState, rows: Vec<AzRow>) -> UnitReport {
        UnitReport {
            account: account.into(),
            account_name: None,
            region: region.map(str::to_string),
            state,
            elapsed_ms: 5,
            error: state
                .not_done()
                .then(|| "sts:AssumeRole failed: AccessDenied: not allowed to assume it".into()),
            changes: Vec::new(),
            rows,
            details: Vec::new(),
            result: serde_json::Value::Null,
        }
    }

    fn row(az: &str, total: usize, good: usize, bad: usize) -> AzRow {
        AzRow {
            availability_zone: az.into(),
            total,
            good,
            bad,
            errors: 0,
        }
    }

    const COLS: Columns = Columns {
        names: ["probe", "ok", "fail", "err"],
        legend: "probe: probes; ok: healthy; fail: failing; err: not run",
        legend_ja: "probe：プローブ、ok：正常、fail：障害、err：実行できず",
    };

    #[test]
    fn exit_codes_say_partial_and_failures_apart() {
        use UnitState::*;
        let ok = unit(
            "111111111111",
            Some("us-east-1"),
            Ok,
            vec![row("us-east-1a", 2, 2, 0)],
        );
        let failing = unit(
            "111111111111",
            Some("eu-west-1"),
            Failures,
            vec![row("eu-west-1a", 2, 1, 1)],
        );
        let denied = unit("222222222222", None, Denied, vec![]);
        let empty = unit("333333333333", Some("us-east-1"), Empty, vec![]);
        assert_eq!(exit_code(std::slice::from_ref(&ok), true), 0);
        assert_eq!(exit_code(&[ok.clone(), failing.clone()], true), 1);
        assert_eq!(exit_code(&[ok.clone(), denied.clone()], true), 3);
        assert_eq!(exit_code(&[failing.clone(), denied.clone()], true), 4);
        assert_eq!(exit_code(std::slice::from_ref(&denied), true), 2);
        assert_eq!(
            exit_code(std::slice::from_ref(&empty), true),
            2,
            "no probe anywhere"
        );
        assert_eq!(
            exit_code(std::slice::from_ref(&empty), false),
            0,
            "status: nothing there is fine"
        );
        assert_eq!(exit_code(&[ok, empty], true), 0);
        assert_eq!(exit_code(&[], false), 2);
    }

    #[test]
    fn text_is_a_table_then_failures_within_80_columns() {
        let units = vec![
            unit(
                "111111111111",
                Some("ap-southeast-2"),
                UnitState::Failures,
                vec![
                    row("ap-southeast-2a", 3, 2, 1),
                    row("ap-southeast-2b", 1, 1, 0),
                ],
            ),
            unit(
                "111111111111",
                Some("us-east-1"),
                UnitState::Ok,
                vec![row("us-east-1a", 2, 2, 0)],
            ),
            unit("222222222222", None, UnitState::Denied, vec![]),
        ];
        let mut r = FleetResult::new("run", false, COLS, units);
        r.units[0].details = vec!["subnet-0abc (ap-southeast-2a): broken".into()];
        let t = r.text();
        for line in t.lines() {
            assert!(width(line) <= WIDTH, "{} columns: {line}", width(line));
        }
        let lines: Vec<&str> = t.lines().collect();
        assert!(lines[1].starts_with("account      Region"), "{t}");
        // account → Region → AZ: the account and Region are printed once per group.
        assert!(
            lines[2].starts_with("111111111111 ap-southeast-2 ap-southeast-2a"),
            "{t}"
        );
        assert!(
            lines[3].starts_with("                            ap-southeast-2b"),
            "{t}"
        );
        assert!(
            lines[4].starts_with("             us-east-1      us-east-1a"),
            "{t}"
        );
        assert!(
            lines[5].starts_with("222222222222 *") && lines[5].ends_with("denied"),
            "{t}"
        );
        let details = t.split("Details (failures only):").nth(1).expect(&t);
        let details = details.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            details.contains("222222222222 (every Region): denied: sts:AssumeRole"),
            "{t}"
        );
        assert!(details.contains("subnet-0abc"), "{t}");
        assert!(
            !details.contains("us-east-1:"),
            "healthy units have no details: {t}"
        );
        let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            flat.contains("Exit 4: partial results, and failures found"),
            "{t}"
        );
        assert_eq!(r.summary.total, 6);
        assert_eq!(r.summary.bad, 1);
    }

    #[test]
    fn japanese_text_is_the_same_table_in_japanese_within_80_columns() {
        let units = vec![
            unit(
                "111111111111",
                Some("ap-southeast-2"),
                UnitState::Failures,
                vec![
                    row("ap-southeast-2a", 3, 2, 1),
                    row("ap-southeast-2b", 1, 1, 0),
                ],
            ),
            unit("222222222222", None, UnitState::Denied, vec![]),
        ];
        let mut r = FleetResult::new("run", false, COLS, units);
        r.units[0].details = vec!["subnet-0abc (ap-southeast-2a): 障害".into()];
        r.notes = vec![Said::new(
            "account 333333333333 is not active: left out",
            "アカウント 333333333333 は有効ではないため対象外",
        )];
        let en = r.text();
        r.lang = Lang::Ja;
        let t = r.text();
        for line in t.lines() {
            assert!(width(line) <= WIDTH, "{} columns: {line}", width(line));
        }
        let lines: Vec<&str> = t.lines().collect();
        assert_eq!(
            lines[0], "egress-probe run：2 アカウント × 1 リージョン",
            "{t}"
        );
        // The columns line up with the English table: wide characters count two.
        let header = lines[1];
        assert!(header.starts_with("アカウント   リージョン     AZ"), "{t}");
        assert_eq!(
            width(header),
            width(en.lines().nth(1).unwrap()) - width("state") + width("状態"),
            "{t}"
        );
        assert!(
            lines[2].starts_with("111111111111 ap-southeast-2 ap-southeast-2a")
                && lines[2].ends_with("障害あり"),
            "{t}"
        );
        assert!(lines[4].ends_with("拒否"), "{t}");
        assert!(t.contains("probe：プローブ"), "{t}");
        let flat = t.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(flat.contains("詳細（失敗のみ）："), "{t}");
        assert!(
            flat.contains("222222222222 （全リージョン）: 拒否: sts:AssumeRole"),
            "{t}"
        );
        assert!(flat.contains("注意：アカウント 333333333333"), "{t}");
        // Japanese wraps between any two characters: compare without the breaks.
        let solid: String = t.split_whitespace().collect();
        assert!(
            solid.contains(
                "アカウント・リージョン2件：障害あり1、拒否1。終了コード4：一部の結果、障害あり"
            ),
            "{t}"
        );
        // Every state fits the table's last column in both languages.
        for st in UnitState::ALL {
            for lang in [Lang::En, Lang::Ja] {
                let row = format!(
                    "{:<12} {:<14} {:<15} {:>5} {:>5} {:>5} {:>5}  {}",
                    "111111111111",
                    "ap-southeast-2",
                    "ap-southeast-2a",
                    99999,
                    99999,
                    99999,
                    99999,
                    st.words(lang)
                );
                assert!(width(&row) <= WIDTH, "{st:?} {lang:?}: {row}");
            }
        }
        // JSON does not follow --lang.
        let json = r.json_lines();
        assert!(json.contains("\"state\":\"failing\""), "{json}");
        assert!(json.contains("is not active: left out"), "{json}");
        assert!(!json.contains("障害あり"), "{json}");
    }

    #[test]
    fn json_lines_are_one_object_per_unit_then_the_summary() {
        let units = vec![
            unit(
                "111111111111",
                Some("us-east-1"),
                UnitState::Ok,
                vec![row("us-east-1a", 1, 1, 0)],
            ),
            unit("222222222222", None, UnitState::Throttled, vec![]),
        ];
        let r = FleetResult::new("status", false, COLS, units);
        let lines: Vec<serde_json::Value> = r
            .json_lines()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(lines.len(), 3);
        assert_eq!(lines[0]["type"], "unit");
        assert_eq!(lines[0]["state"], "ok");
        assert_eq!(lines[1]["state"], "throttled");
        assert!(lines[1]["region"].is_null());
        assert_eq!(lines[2]["type"], "summary");
        assert_eq!(lines[2]["summary"]["exit_code"], 3);
        assert_eq!(lines[2]["summary"]["by_state"]["throttled"], 1);
    }

    #[test]
    fn long_zone_names_are_cut_to_the_column() {
        assert_eq!(fit("us-west-2-lax-1a", 15), "us-west-2-lax-~");
        assert_eq!(fit("us-east-1a", 15), "us-east-1a");
    }
}
