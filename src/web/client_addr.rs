//! The client's address: the TCP peer, or — when the peer is one of the configured trusted
//! proxies — the rightmost `X-Forwarded-For` hop that is not itself a trusted proxy. Everything
//! keyed on "who is asking" (login throttling, the write-API limiter, audit records) reads the
//! address from here, so a forged header counts only where a proxy we run has vouched for it.
use std::net::{IpAddr, SocketAddr};

use axum::extract::ConnectInfo;
use axum::http::{Extensions, HeaderMap};
use ipnet::IpNet;

/// The proxies whose `X-Forwarded-For` is believed (`TINGSHANG_TRUSTED_PROXIES`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// Parses a comma-separated list of addresses and CIDR ranges (`10.0.0.0/8, ::1`).
    pub fn parse(spec: &str) -> Result<Self, String> {
        spec.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| {
                s.parse::<IpNet>()
                    .or_else(|_| s.parse::<IpAddr>().map(|ip| IpNet::from(ip.to_canonical())))
                    .map_err(|_| format!("not an IP address or CIDR range: {s}"))
            })
            .collect::<Result<_, _>>()
            .map(Self)
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One `X-Forwarded-For` hop: an address, possibly with a port (`1.2.3.4:80`, `[::1]:80`).
fn parse_hop(hop: &str) -> Option<IpAddr> {
    let hop = hop.trim();
    let ip = hop
        .parse::<IpAddr>()
        .ok()
        .or_else(|| hop.parse::<SocketAddr>().ok().map(|s| s.ip()))
        .or_else(|| {
            hop.strip_prefix('[')
                .and_then(|h| h.strip_suffix(']'))
                .and_then(|h| h.parse().ok())
        })?;
    Some(ip.to_canonical())
}

/// The client behind `peer`, given the `X-Forwarded-For` values in the order they arrived.
///
/// Each proxy appends the address it was reached from, so only hops to the right of the last
/// untrusted one were written by proxies we trust; anything further left is whatever the client
/// chose to send. A hop that does not parse ends the walk at the last address that did.
pub fn resolve<'a>(
    peer: IpAddr,
    forwarded_for: impl DoubleEndedIterator<Item = &'a str>,
    trusted: &TrustedProxies,
) -> IpAddr {
    let mut client = peer.to_canonical();
    if !trusted.contains(client) {
        return client;
    }
    let hops: Vec<&str> = forwarded_for.flat_map(|v| v.split(',')).collect();
    for hop in hops.into_iter().rev() {
        let Some(ip) = parse_hop(hop) else { break };
        client = ip;
        if !trusted.contains(ip) {
            break;
        }
    }
    client
}

/// The client address of a request ("unknown" when the server runs without connection info).
pub fn of_request(
    headers: &HeaderMap,
    extensions: &Extensions,
    trusted: &TrustedProxies,
) -> String {
    let Some(ConnectInfo(peer)) = extensions.get::<ConnectInfo<SocketAddr>>() else {
        return "unknown".to_owned();
    };
    let forwarded = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok());
    resolve(peer.ip(), forwarded, trusted).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn ranges_and_single_addresses_match() {
        let trusted = TrustedProxies::parse(" 10.0.0.0/8, 192.168.1.7 ,fd00::/8,::1").unwrap();
        assert!(trusted.contains(ip("10.255.3.4")));
        assert!(!trusted.contains(ip("11.0.0.1")));
        assert!(trusted.contains(ip("192.168.1.7")));
        assert!(!trusted.contains(ip("192.168.1.8")));
        assert!(trusted.contains(ip("fd12::1")));
        assert!(trusted.contains(ip("::1")));
        // An IPv4 peer seen through a dual-stack socket is the same address.
        assert!(trusted.contains(ip("::ffff:10.1.2.3")));
        assert!(TrustedProxies::parse("").unwrap().is_empty());
        assert!(TrustedProxies::parse("10.0.0.0/33").is_err());
        assert!(TrustedProxies::parse("proxy.example").is_err());
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_peers() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        let none = TrustedProxies::default();
        let xff = ["203.0.113.9"];
        // An untrusted peer's header is ignored.
        assert_eq!(
            resolve(ip("198.51.100.1"), xff.into_iter(), &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), xff.into_iter(), &none),
            ip("10.0.0.2")
        );
        // A trusted proxy's is believed.
        assert_eq!(
            resolve(ip("10.0.0.2"), xff.into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }

    #[test]
    fn the_rightmost_untrusted_hop_wins() {
        let trusted = TrustedProxies::parse("10.0.0.0/8").unwrap();
        // The client forged the leftmost hop; the first untrusted one from the right is real.
        let spoofed = ["1.1.1.1, 203.0.113.9", "10.0.0.5"];
        assert_eq!(
            resolve(ip("10.0.0.2"), spoofed.into_iter(), &trusted),
            ip("203.0.113.9")
        );
        // Every hop trusted: the furthest one is the best we know.
        let inside = ["10.9.9.9, 10.0.0.5"];
        assert_eq!(
            resolve(ip("10.0.0.2"), inside.into_iter(), &trusted),
            ip("10.9.9.9")
        );
        // No header: the proxy itself.
        assert_eq!(
            resolve(ip("10.0.0.2"), std::iter::empty(), &trusted),
            ip("10.0.0.2")
        );
        // Garbage stops the walk at the last address that parsed.
        let garbage = ["<script>, 10.0.0.5"];
        assert_eq!(
            resolve(ip("10.0.0.2"), garbage.into_iter(), &trusted),
            ip("10.0.0.5")
        );
        // Ports and brackets are tolerated; mapped IPv4 is plain IPv4.
        let ports = ["[2001:db8::1]:4711", "203.0.113.9:80"];
        assert_eq!(
            resolve(ip("10.0.0.2"), ports[..1].iter().copied(), &trusted),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(ip("10.0.0.2"), ports[1..].iter().copied(), &trusted),
            ip("203.0.113.9")
        );
        let mapped = ["::ffff:203.0.113.9"];
        assert_eq!(
            resolve(ip("::ffff:10.0.0.2"), mapped.into_iter(), &trusted),
            ip("203.0.113.9")
        );
    }
}
