//! Which network addresses requests may reach: the guard against server-side request forgery.
//!
//! A tenant who can set a connector's URL (a REST endpoint, a WebDAV or Confluence Server
//! address) can otherwise make the host fetch `http://169.254.169.254/` (the cloud metadata
//! service and its credentials), `http://localhost:…` or any intranet address, and read the
//! answer back as a document. A [`NetworkPolicy`] that denies private addresses (enforced by the
//! HTTP layer of the `http` feature) checks every
//! hop of every request, redirects included:
//! - a URL whose host is an IP address is checked before it is sent;
//! - a host name is resolved by the client's own resolver, which drops the addresses the policy
//!   denies *before* the connection is made, so the address checked is the address connected
//!   to (a DNS answer that changes between a check and the connection, "DNS rebinding", cannot
//!   slip through).
//!
//! A denied request fails at once with [`ErrorKind::PermissionDenied`], naming the host, the
//! address and how to allow it; it is not retried. Hosts that index their own intranet allow
//! names (`wiki.corp.example`, `*.corp.example`) or networks (`10.20.0.0/16`, `127.0.0.1`)
//! explicitly. The proxy named by `HTTPS_PROXY`/`HTTP_PROXY`/`ALL_PROXY` (which the client
//! connects to instead of the target, and which then does the resolving) is allowed, since
//! the proxy, not this guard, decides what the target may be.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::IpNet;
use url::{Host, Url};

use crate::error::{Error, ErrorKind, Result};

/// What a denied request tells the user to change.
pub const ALLOW_HINT: &str = "allow it with the config's `allowed_hosts` or the command line's \
     `--allow-host` (a host name, `*.domain`, an address or a network such as `10.0.0.0/8`), \
     unless the host's network policy (`Registry::set_network_policy`) rules that out";

/// The rustdoc of a config's `allowed_hosts` field, for connectors whose URL a tenant sets.
pub const ALLOWED_HOSTS_DOC: &str = "Hosts this connector may reach although they are not \
     public addresses: host names (`wiki.corp.example`), domains (`*.corp.example`), addresses \
     (`10.1.2.3`) or networks (`10.20.0.0/16`). Private, loopback and link-local addresses \
     (the cloud metadata service at 169.254.169.254) are denied otherwise, on every redirect \
     too. A host that runs connectors for others can rule this field out \
     (`Registry::set_network_policy`).";

/// Which addresses the `HttpClient` may connect to.
///
/// [`any`](Self::any) (the default) reaches everything, as a client the host configures
/// itself should; [`public_only`](Self::public_only) denies loopback, private, link-local
/// (cloud metadata at `169.254.169.254` and `fd00:ec2::254`), carrier-grade NAT, multicast,
/// documentation and other reserved ranges, except what [`allow`](Self::allow) names.
///
/// ```
/// use connector_core::net::NetworkPolicy;
/// let policy = NetworkPolicy::public_only().allow(["wiki.corp.example", "10.20.0.0/16"])?;
/// assert!(policy.permits("wiki.corp.example", "10.1.2.3".parse().unwrap()));
/// assert!(policy.permits("api.corp.example", "10.20.3.4".parse().unwrap()));
/// assert!(!policy.permits("evil.example", "169.254.169.254".parse().unwrap()));
/// assert!(policy.permits("example.org", "93.184.215.14".parse().unwrap()));
/// # Ok::<(), connector_core::Error>(())
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct NetworkPolicy {
    deny_private: bool,
    hosts: Vec<String>,
    networks: Vec<IpNet>,
    config_hosts: bool,
}

impl NetworkPolicy {
    /// Every address is reachable (no guard).
    pub fn any() -> Self {
        Self::default()
    }

    /// Only public addresses are reachable, plus what [`allow`](Self::allow) adds.
    pub fn public_only() -> Self {
        Self {
            deny_private: true,
            ..Self::default()
        }
    }

    /// Whether this policy denies anything.
    pub fn is_guarded(&self) -> bool {
        self.deny_private
    }

    /// Whether a connector config's own `allowed_hosts` may widen this policy when it is the
    /// host's (see [`for_tenant`](Self::for_tenant)); `false` unless set. A multi-tenant
    /// service leaves it off, so no tenant can allow the metadata service; a command line run
    /// by the config's author turns it on.
    #[must_use]
    pub fn with_config_hosts(mut self, on: bool) -> Self {
        self.config_hosts = on;
        self
    }

    /// Whether configs may widen this policy (see [`with_config_hosts`](Self::with_config_hosts)).
    pub fn accepts_config_hosts(&self) -> bool {
        self.config_hosts
    }

    /// The policy of a connector whose URL a tenant sets: the host's policy when it set one
    /// (widened by the config's `allowed_hosts` only where the host's policy
    /// [accepts them](Self::with_config_hosts)), else public addresses only plus the config's
    /// `allowed_hosts`. Private, loopback and link-local addresses are thus denied by
    /// default.
    ///
    /// ```
    /// use connector_core::net::NetworkPolicy;
    /// let own = NetworkPolicy::for_tenant(None, &["10.1.2.3"])?;
    /// assert!(own.permits("wiki", "10.1.2.3".parse().unwrap()));
    /// assert!(!own.permits("wiki", "127.0.0.1".parse().unwrap()));
    /// // A service that forces public addresses ignores what a tenant allows.
    /// let forced = NetworkPolicy::for_tenant(Some(&NetworkPolicy::public_only()), &["10.1.2.3"])?;
    /// assert!(!forced.permits("wiki", "10.1.2.3".parse().unwrap()));
    /// # Ok::<(), connector_core::Error>(())
    /// ```
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming an `allowed_hosts` entry that is not a host, domain,
    /// address or network.
    pub fn for_tenant<S: AsRef<str>>(host: Option<&Self>, allowed_hosts: &[S]) -> Result<Self> {
        let allowed = allowed_hosts.iter().map(AsRef::as_ref);
        match host {
            None => Self::public_only().allow(allowed),
            Some(policy) if policy.config_hosts => policy.clone().allow(allowed),
            Some(policy) => Ok(policy.clone()),
        }
    }

    /// Problems of a config's `allowed_hosts`, each naming its entry, for
    /// [`ConnectorConfig::validate`](crate::config::ConnectorConfig::validate).
    pub fn check_allowed_hosts<S: AsRef<str>>(
        field: &str,
        allowed_hosts: &[S],
    ) -> Vec<crate::error::FieldError> {
        allowed_hosts
            .iter()
            .enumerate()
            .filter_map(|(n, entry)| {
                Self::public_only()
                    .allow([entry.as_ref()])
                    .err()
                    .map(|e| crate::error::FieldError::new(format!("{field}[{n}]"), e.message()))
            })
            .collect()
    }

    /// Also allows each entry: a host name (`wiki.corp.example`, compared without regard to
    /// case), every subdomain of a domain (`*.corp.example`), an address (`127.0.0.1`, `::1`)
    /// or a network (`10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// [`ErrorKind::Config`] naming an entry that is none of these (an empty one, a URL, a
    /// network with a bad prefix length).
    pub fn allow<I, S>(mut self, entries: I) -> Result<Self>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        for entry in entries {
            let entry = entry.as_ref().trim();
            if let Ok(net) = entry.parse::<IpNet>() {
                self.networks.push(net);
            } else if let Ok(ip) = entry.trim_matches(['[', ']']).parse::<IpAddr>() {
                self.networks.push(IpNet::from(ip));
            } else if is_host_pattern(entry) {
                self.hosts.push(entry.to_ascii_lowercase());
            } else {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "`{entry}` is not a host name, `*.domain`, an address or a network \
                         (`10.0.0.0/8`)"
                    ),
                ));
            }
        }
        Ok(self)
    }

    /// Whether a connection to `ip`, found for `host`, is allowed.
    pub fn permits(&self, host: &str, ip: IpAddr) -> bool {
        !self.deny_private
            || self.host_allowed(host)
            || self.networks.iter().any(|n| n.contains(&ip))
            || is_public(ip)
    }

    fn host_allowed(&self, host: &str) -> bool {
        if self.hosts.is_empty() {
            return false;
        }
        let host = host.trim_end_matches('.').to_ascii_lowercase();
        self.hosts
            .iter()
            .any(|allowed| match allowed.strip_prefix("*.") {
                Some(domain) => host
                    .strip_suffix(domain)
                    .is_some_and(|rest| rest.ends_with('.')),
                None => *allowed == host,
            })
    }

    /// Checks a URL whose host is an IP address (a name is checked when it is resolved).
    ///
    /// # Errors
    /// [`ErrorKind::PermissionDenied`] for an address the policy denies.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP layer
    pub(crate) fn check_url(&self, url: &Url) -> Result<()> {
        let ip = match url.host() {
            Some(Host::Ipv4(ip)) => IpAddr::V4(ip),
            Some(Host::Ipv6(ip)) => IpAddr::V6(ip),
            _ => return Ok(()),
        };
        // `permits` with the address's text made only when a host pattern must see it: a
        // request to an allowed address (every request of a client pointed at one) copies
        // nothing.
        if !self.deny_private || self.networks.iter().any(|n| n.contains(&ip)) || is_public(ip) {
            return Ok(());
        }
        let host = ip.to_string();
        if self.host_allowed(&host) {
            Ok(())
        } else {
            Err(Blocked { host, ip }.into_error())
        }
    }

    /// The policy with the proxies the environment names allowed.
    #[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP layer
    pub(crate) fn with_proxies_from_env(mut self) -> Self {
        for var in [
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
            "ALL_PROXY",
            "all_proxy",
        ] {
            let Ok(value) = std::env::var(var) else {
                continue;
            };
            let parsed = Url::parse(&value).or_else(|_| Url::parse(&format!("http://{value}")));
            if let Some(host) = parsed.ok().and_then(|u| u.host_str().map(str::to_owned)) {
                let host = host.trim_matches(['[', ']']).to_owned();
                match host.parse::<IpAddr>() {
                    Ok(ip) => self.networks.push(IpNet::from(ip)),
                    Err(_) => self.hosts.push(host.to_ascii_lowercase()),
                }
            }
        }
        self
    }
}

impl fmt::Debug for NetworkPolicy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if !self.deny_private {
            return f.write_str("NetworkPolicy::any");
        }
        f.debug_struct("NetworkPolicy::public_only")
            .field("hosts", &self.hosts)
            .field("networks", &self.networks)
            .field("config_hosts", &self.config_hosts)
            .finish()
    }
}

/// Whether `entry` can name a host: labels of letters, digits, `-` and `_`, optionally
/// starting with `*.`.
fn is_host_pattern(entry: &str) -> bool {
    let name = entry.strip_prefix("*.").unwrap_or(entry);
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        })
}

/// Whether an address is on the public internet: not loopback, private, link-local, shared
/// (carrier-grade NAT), multicast, documentation, benchmarking, reserved or unspecified; an
/// IPv4 address inside an IPv6 one (mapped, compatible, NAT64) is judged as the IPv4 address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_multicast()
        || ip.is_broadcast()
        || ip.is_documentation()
        || a == 0
        // Shared address space (RFC 6598), used inside providers' networks.
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments (RFC 6890), 192.0.0.0/24.
        || (a == 192 && b == 0 && c == 0)
        // Benchmarking (RFC 2544), 198.18.0.0/15.
        || (a == 198 && (b == 18 || b == 19))
        // Reserved (240.0.0.0/4).
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let first = ip.segments()[0];
    !(ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        // Unique local (fc00::/7), where AWS's IPv6 metadata address fd00:ec2::254 is.
        || (first & 0xfe00) == 0xfc00
        // Link-local (fe80::/10) and the old site-local (fec0::/10).
        || (first & 0xffc0) == 0xfe80
        || (first & 0xffc0) == 0xfec0
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8))
}

/// The IPv4 address an IPv6 address carries: `::ffff:a.b.c.d` (mapped), `::a.b.c.d`
/// (compatible, deprecated) and `64:ff9b::a.b.c.d` (NAT64).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _] => Some(tail),
        [0, 0, 0, 0, 0, 0, _, _] if !ip.is_loopback() && !ip.is_unspecified() => Some(tail),
        [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(tail),
        _ => None,
    }
}

/// A connection the policy denied, carried through reqwest's error chain from the resolver.
#[derive(Debug)]
#[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP layer
pub(crate) struct Blocked {
    pub(crate) host: String,
    pub(crate) ip: IpAddr,
}

#[cfg_attr(not(feature = "http"), allow(dead_code))] // used by the HTTP layer
impl Blocked {
    pub(crate) fn into_error(self) -> Error {
        let what = if self.host == self.ip.to_string() {
            format!("`{}`", self.ip)
        } else {
            format!("`{}` (the address of `{}`)", self.ip, self.host)
        };
        Error::new(
            ErrorKind::PermissionDenied,
            format!(
                "{what} is not a public address, which connectors do not reach unless allowed; {ALLOW_HINT}"
            ),
        )
    }
}

impl fmt::Display for Blocked {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} resolves to the denied address {}",
            self.host, self.ip
        )
    }
}

impl std::error::Error for Blocked {}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn private_and_special_ranges_are_not_public() {
        for denied in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "0.1.2.3",
            "224.0.0.1",
            "255.255.255.255",
            "240.0.0.1",
            "192.0.0.8",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::10.0.0.1",
            "::10.0.0.1",
        ] {
            assert!(!is_public(ip(denied)), "{denied}");
        }
        for allowed in [
            "93.184.215.14",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::6810:84e5",
            "::ffff:8.8.8.8",
            "64:ff9b::8.8.8.8",
        ] {
            assert!(is_public(ip(allowed)), "{allowed}");
        }
    }

    #[test]
    fn allow_lists_names_domains_addresses_and_networks() {
        let policy = NetworkPolicy::public_only()
            .allow([
                "Wiki.Corp.Example",
                "*.intra.example",
                "127.0.0.1",
                "10.20.0.0/16",
                "[::1]",
            ])
            .unwrap();
        assert!(policy.permits("wiki.corp.example.", ip("10.0.0.1")));
        assert!(policy.permits("a.b.intra.example", ip("192.168.0.1")));
        assert!(!policy.permits("intra.example", ip("192.168.0.1")));
        assert!(!policy.permits("evilintra.example", ip("192.168.0.1")));
        assert!(policy.permits("localhost", ip("127.0.0.1")));
        assert!(policy.permits("localhost", ip("::1")));
        assert!(!policy.permits("localhost", ip("127.0.0.2")));
        assert!(policy.permits("x", ip("10.20.9.9")));
        assert!(!policy.permits("x", ip("10.21.0.1")));
        assert!(NetworkPolicy::any().permits("x", ip("169.254.169.254")));
        for bad in ["", "http://x", "10.0.0.0/40", "a b", "*."] {
            let err = NetworkPolicy::public_only().allow([bad]).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Config, "{bad}");
        }
    }

    #[test]
    fn literal_addresses_are_checked_before_sending() {
        let policy = NetworkPolicy::public_only();
        let err = policy
            .check_url(&Url::parse("http://169.254.169.254/latest/meta-data/").unwrap())
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::PermissionDenied);
        assert!(err.to_string().contains("allowed_hosts"), "{err}");
        policy
            .check_url(&Url::parse("https://93.184.215.14/").unwrap())
            .unwrap();
        // Names are left to the resolver.
        policy
            .check_url(&Url::parse("http://localhost/").unwrap())
            .unwrap();
    }
}
