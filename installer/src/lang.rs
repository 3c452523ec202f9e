//! The words of the text output in English and Japanese (`--lang ja`), keyed by what they
//! name (a status, a verdict, a hop kind), never by matching English text. The Japanese
//! follows the terms of AWS's Japanese documentation: ネットワーク ACL, セキュリティグループ,
//! ルートテーブル, NAT ゲートウェイ, インターネットゲートウェイ, エフェメラルポート, サブネット,
//! アベイラビリティーゾーン.
//!
//! Finding summaries and remediations come translated from the probe's catalogue
//! (`egress_probe::diagnosis::catalog`); the free-text evidence of a hop (`decided_by`:
//! rule numbers, CIDRs, route targets) is shown as it is, after a translated statement
//! chosen by the hop's kind and verdict.

use crate::cli::Lang;
use egress_probe::model::{HopVerdict, PathVerdict, Severity, Status, Verdict};

/// One text in the chosen language.
pub fn tr(lang: Lang, en: &'static str, ja: &'static str) -> &'static str {
    match lang {
        Lang::En => en,
        Lang::Ja => ja,
    }
}

/// A sentence made from data (IDs, errors) in both languages, for text output; JSON
/// carries the English (`Serialize` writes `en` as a plain string), so the machine format
/// does not change with `--lang`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Said {
    pub en: String,
    pub ja: String,
}

impl Said {
    pub fn new(en: impl Into<String>, ja: impl Into<String>) -> Self {
        Self {
            en: en.into(),
            ja: ja.into(),
        }
    }

    pub fn get(&self, lang: Lang) -> &str {
        match lang {
            Lang::En => &self.en,
            Lang::Ja => &self.ja,
        }
    }
}

impl serde::Serialize for Said {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.en)
    }
}

/// Every status a check can end with (for legends and tests).
pub const STATUSES: &[Status] = &[
    Status::Ok,
    Status::Timeout,
    Status::Refused,
    Status::Unreachable,
    Status::Reset,
    Status::DnsNxdomain,
    Status::DnsNodata,
    Status::DnsServfail,
    Status::DnsRefused,
    Status::DnsTimeout,
    Status::TlsCertificate,
    Status::TlsAlert,
    Status::TlsTimeout,
    Status::TlsError,
    Status::HttpStatus,
    Status::ProxyRefused,
    Status::CutShort,
    Status::Error,
];

/// The two-letter code of a failed check in a matrix cell (the legend explains it).
pub fn status_code(s: Status) -> &'static str {
    match s {
        Status::Ok => "ok",
        Status::Timeout => "TO",
        Status::Refused => "RF",
        Status::Unreachable => "UR",
        Status::Reset => "RS",
        Status::DnsNxdomain => "NX",
        Status::DnsNodata => "ND",
        Status::DnsServfail => "SF",
        Status::DnsRefused => "DR",
        Status::DnsTimeout => "DT",
        Status::TlsCertificate => "CE",
        Status::TlsAlert => "TA",
        Status::TlsTimeout => "TT",
        Status::TlsError => "TE",
        Status::HttpStatus => "HE",
        Status::ProxyRefused => "PX",
        Status::CutShort => "CS",
        Status::Error => "ER",
    }
}

/// What a status means, in words.
pub fn status_name(s: Status, lang: Lang) -> &'static str {
    let (en, ja) = match s {
        Status::Ok => ("reached", "到達"),
        Status::Timeout => ("timed out (no answer)", "タイムアウト（応答なし）"),
        Status::Refused => ("connection refused", "接続拒否"),
        Status::Unreachable => ("unreachable", "到達不能"),
        Status::Reset => ("connection reset", "接続リセット"),
        Status::DnsNxdomain => (
            "name does not exist (NXDOMAIN)",
            "名前が存在しない（NXDOMAIN）",
        ),
        Status::DnsNodata => ("no address record", "アドレスレコードなし"),
        Status::DnsServfail => (
            "DNS server failure (SERVFAIL)",
            "DNS サーバーの失敗（SERVFAIL）",
        ),
        Status::DnsRefused => ("DNS query refused", "DNS クエリの拒否"),
        Status::DnsTimeout => ("DNS timed out", "DNS のタイムアウト"),
        Status::TlsCertificate => ("certificate not trusted", "証明書を検証できない"),
        Status::TlsAlert => ("TLS alert from the server", "サーバーからの TLS アラート"),
        Status::TlsTimeout => (
            "TLS handshake timed out",
            "TLS ハンドシェイクのタイムアウト",
        ),
        Status::TlsError => ("TLS error", "TLS エラー"),
        Status::HttpStatus => ("HTTP error status", "HTTP エラー応答"),
        Status::ProxyRefused => ("refused by the proxy", "プロキシが拒否"),
        Status::CutShort => (
            "cut short: the invocation ran out of time",
            "打ち切り：呼び出しの残り時間切れ",
        ),
        Status::Error => ("the check could not run", "チェックを実行できなかった"),
    };
    tr(lang, en, ja)
}

pub fn verdict(v: Verdict, lang: Lang) -> &'static str {
    match v {
        Verdict::Healthy => tr(lang, "healthy", "正常"),
        Verdict::Degraded => tr(lang, "degraded", "一部失敗"),
        Verdict::Broken => tr(lang, "broken", "障害"),
    }
}

pub fn path_verdict(v: PathVerdict, lang: Lang) -> &'static str {
    match v {
        PathVerdict::Reachable => tr(lang, "reachable", "到達可能"),
        PathVerdict::Blocked => tr(lang, "blocked", "遮断"),
        PathVerdict::Intermittent => tr(lang, "intermittent", "断続的"),
        PathVerdict::NotVerifiable => tr(lang, "not verifiable from here", "ここからは検証不可"),
    }
}

pub fn hop_verdict(v: HopVerdict, lang: Lang) -> &'static str {
    match v {
        HopVerdict::Pass => tr(lang, "pass", "通過"),
        HopVerdict::Block => tr(lang, "BLOCK", "遮断"),
        HopVerdict::Partial => tr(lang, "partial", "一部のみ"),
        HopVerdict::Unknown => tr(lang, "unknown", "不明"),
    }
}

pub fn severity(s: Severity, lang: Lang) -> &'static str {
    match s {
        Severity::Error => tr(lang, "error", "エラー"),
        Severity::Warning => tr(lang, "warning", "警告"),
        Severity::Info => tr(lang, "info", "情報"),
    }
}

/// The name of a hop kind (`Hop::component`); an unknown kind is shown as it is.
pub fn component(kind: &str, lang: Lang) -> String {
    let (en, ja) = match kind {
        "eni" => ("function ENI", "関数の ENI"),
        "security_group" => ("security group", "セキュリティグループ"),
        "nacl_out" => ("network ACL out", "ネットワーク ACL（送信）"),
        "nacl_in" => ("network ACL in", "ネットワーク ACL（受信）"),
        "route_table" => ("route table", "ルートテーブル"),
        "local" => ("local route", "ローカルルート"),
        "nat_gateway" => ("NAT gateway", "NAT ゲートウェイ"),
        "internet_gateway" => ("internet gateway", "インターネットゲートウェイ"),
        "egress_only_internet_gateway" => {
            ("egress-only IGW", "Egress-Only インターネットゲートウェイ")
        }
        "vpc_endpoint" => ("VPC endpoint", "VPC エンドポイント"),
        "block_public_access" => ("Block Public Access", "VPC ブロックパブリックアクセス"),
        "amazon_provided_service" => ("Amazon service", "Amazon 提供のサービス"),
        "next_hop" => ("next hop", "ネクストホップ"),
        other => return other.to_string(),
    };
    tr(lang, en, ja).to_string()
}

/// In Japanese, a statement of what the hop's verdict means for its kind; the hop's
/// evidence (`decided_by`) follows it. English shows the evidence alone (it is already a
/// statement), so this is `None` there.
pub fn hop_statement(kind: &str, v: HopVerdict, lang: Lang) -> Option<&'static str> {
    if lang == Lang::En {
        return None;
    }
    Some(match (kind, v) {
        (_, HopVerdict::Unknown) => "スナップショットからは検証できません",
        ("security_group", HopVerdict::Pass) => "アウトバウンドルールが許可しています",
        ("security_group", _) => "アウトバウンドルールが許可していません",
        ("nacl_out", HopVerdict::Pass) => "アウトバウンドルールが許可しています",
        ("nacl_out", HopVerdict::Partial) => "アウトバウンドルールが一部のみ許可しています",
        ("nacl_out", _) => "アウトバウンドルールが拒否しています",
        ("nacl_in", HopVerdict::Pass) => "インバウンドルールが応答を許可しています",
        ("nacl_in", HopVerdict::Partial) => {
            "インバウンドルールがエフェメラルポートの一部のみ許可しています"
        }
        ("nacl_in", _) => "インバウンドルールが応答を拒否しています",
        ("route_table" | "local", HopVerdict::Pass) => "宛先へのルートがあります",
        ("route_table" | "local", _) => "宛先への有効なルートがありません",
        ("nat_gateway", HopVerdict::Pass) => "NAT ゲートウェイは利用可能です",
        ("nat_gateway", _) => "NAT ゲートウェイを利用できません",
        ("internet_gateway", HopVerdict::Pass) => "インターネットゲートウェイを通過します",
        ("internet_gateway", _) => "インターネットゲートウェイを通過できません",
        ("egress_only_internet_gateway", HopVerdict::Pass) => {
            "Egress-Only インターネットゲートウェイを通過します"
        }
        ("egress_only_internet_gateway", _) => {
            "Egress-Only インターネットゲートウェイを通過できません"
        }
        ("vpc_endpoint", HopVerdict::Pass) => "VPC エンドポイントが受け付けます",
        ("vpc_endpoint", _) => "VPC エンドポイントが受け付けません",
        ("block_public_access", HopVerdict::Pass) => "ブロックパブリックアクセスの対象外です",
        ("block_public_access", _) => "ブロックパブリックアクセスが遮断しています",
        ("eni", HopVerdict::Pass) => "関数の ENI から送信できます",
        ("eni", _) => "関数の ENI からこのアドレスファミリーでは送信できません",
        ("amazon_provided_service", _) => {
            "Amazon 提供のサービスはセキュリティグループとネットワーク ACL の対象外です"
        }
        (_, HopVerdict::Pass) => "通過します",
        (_, HopVerdict::Partial) => "一部のみ通過します",
        (_, HopVerdict::Block) => "遮断されます",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_has_a_code_and_both_names() {
        let mut codes = std::collections::BTreeSet::new();
        for s in STATUSES {
            assert!(codes.insert(status_code(*s)), "duplicate code for {s}");
            assert!(status_code(*s).len() <= 2);
            assert_ne!(status_name(*s, Lang::En), status_name(*s, Lang::Ja));
            assert!(!status_name(*s, Lang::Ja).is_ascii(), "{s}");
        }
    }

    #[test]
    fn hop_kinds_use_the_aws_japanese_terms() {
        assert_eq!(component("nacl_in", Lang::Ja), "ネットワーク ACL（受信）");
        assert_eq!(component("route_table", Lang::Ja), "ルートテーブル");
        assert_eq!(component("nat_gateway", Lang::Ja), "NAT ゲートウェイ");
        assert_eq!(component("security_group", Lang::En), "security group");
        assert_eq!(component("transit_gateway", Lang::Ja), "transit_gateway");
        assert_eq!(
            hop_statement("nacl_in", HopVerdict::Partial, Lang::Ja),
            Some("インバウンドルールがエフェメラルポートの一部のみ許可しています")
        );
        assert_eq!(
            hop_statement("nacl_in", HopVerdict::Partial, Lang::En),
            None
        );
    }
}
