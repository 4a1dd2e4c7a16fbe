//! The Debian 12 kernels `cargo xtask vmtest` boots: the newest stock
//! `linux-image-6.1.0-N-amd64` and `linux-image-6.12.N+deb12-amd64` in Debian's
//! registry, found when setup runs, never hard-coded. Only the plain amd64
//! flavour: `-cloud-` lacks 9p (the guest's root file system), `-rt-` is not
//! what servers run, `-dbg` and `-unsigned` are not bootable packages.

use std::{path::Path, process::Command, time::SystemTime};

use crate::{
    setup::dpkg_installed,
    shell::{output, status},
};

/// One kernel series: packages are `{prefix}N{suffix}`, newest = largest N.
#[derive(Debug, PartialEq, Eq)]
pub struct Series {
    pub name: &'static str,
    prefix: &'static str,
    suffix: &'static str,
}

pub const SERIES: [Series; 2] = [
    // N is the ABI number Debian bumps with each 6.1 update.
    Series { name: "6.1", prefix: "linux-image-6.1.0-", suffix: "-amd64" },
    // N is the upstream stable release.
    Series { name: "6.12", prefix: "linux-image-6.12.", suffix: "+deb12-amd64" },
];

/// The value of `--kernel`: one series by name, or `all`.
pub fn parse_flag(value: &str) -> Result<Vec<&'static Series>, String> {
    match value {
        "all" => Ok(SERIES.iter().collect()),
        name => SERIES.iter().find(|s| s.name == name).map(|s| vec![s]).ok_or_else(|| {
            let names: Vec<_> = SERIES.iter().map(|s| s.name).collect();
            format!("unknown kernel `{name}`: use one of {} or all", names.join(", "))
        }),
    }
}

impl Series {
    /// N of a package name of this series, None for anything else
    /// (another series, or a -cloud/-rt/-dbg/-unsigned flavour).
    fn number(&self, package: &str) -> Option<u32> {
        let n = package.strip_prefix(self.prefix)?.strip_suffix(self.suffix)?;
        if n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        n.parse().ok()
    }

    /// The newest package of this series among `names` (one per line, as
    /// `apt-cache search` prints them: `NAME - DESCRIPTION`).
    pub fn newest<'a>(&self, listing: &'a str) -> Option<&'a str> {
        listing
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter_map(|p| self.number(p).map(|n| (n, p)))
            .max_by_key(|(n, _)| *n)
            .map(|(_, p)| p)
    }

    /// The release (`uname -r`) a package of this series installs.
    pub fn release(package: &str) -> &str {
        package.strip_prefix("linux-image-").unwrap_or(package)
    }

    /// The newest kernel of this series already installed, from /boot.
    fn newest_installed(&self) -> Option<String> {
        let listing: String = std::fs::read_dir("/boot")
            .ok()?
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name().into_string().ok()?;
                Some(format!("linux-image-{}\n", name.strip_prefix("vmlinuz-")?))
            })
            .collect();
        self.newest(&listing).map(|p| Self::release(p).to_string())
    }
}

/// The apt lists are refreshed at most once a day for this (a stamp in the
/// cache dir); a failed refresh falls back to the lists there are.
fn refresh_package_lists(cache: &Path) -> Result<(), String> {
    let stamp = cache.join("apt-update.stamp");
    let fresh = std::fs::metadata(&stamp)
        .and_then(|m| m.modified())
        .is_ok_and(|t| SystemTime::now().duration_since(t).is_ok_and(|d| d.as_secs() < 86_400));
    if fresh {
        return Ok(());
    }
    status(Command::new("apt-get").args(["update", "-qq"]))?;
    let _ = std::fs::write(&stamp, "");
    Ok(())
}

/// Installs the newest kernel of each series unless it is there, and returns
/// each one's release. Installing skips the initramfs (`INITRD=No`, honoured by
/// /etc/kernel/postinst.d/initramfs-tools): virtme-ng builds its own, and
/// update-initramfs is most of a kernel package's install time (~5 min → ~15 s).
/// Where the registry cannot be reached, the newest installed kernel of the
/// series stands in, with a message.
pub fn install_newest(series: &[&'static Series], cache: &Path) -> Result<Vec<String>, String> {
    let mut trouble = refresh_package_lists(cache).err();
    let pattern = r"^linux-image-6\.(1\.0-[0-9]+|12\.[0-9]+\+deb12)-amd64$";
    let listing = output("apt-cache", &["search", "--names-only", pattern]).unwrap_or_default();
    let newest: Vec<Option<&str>> = series.iter().map(|s| s.newest(&listing)).collect();
    let missing: Vec<&str> =
        newest.iter().flatten().copied().filter(|p| !dpkg_installed(p)).collect();
    if !missing.is_empty() {
        eprintln!("setup: installing {} (without an initramfs)", missing.join(" "));
        trouble = status(
            Command::new("apt-get")
                .args(["install", "-y", "-qq", "--no-install-recommends"])
                .args(&missing)
                .env("DEBIAN_FRONTEND", "noninteractive")
                .env("INITRD", "No"),
        )
        .err()
        .or(trouble);
    }
    series
        .iter()
        .zip(newest)
        .map(|(s, package)| match package.filter(|p| dpkg_installed(p)) {
            Some(p) => Ok(Series::release(p).to_string()),
            None => {
                let why = trouble.as_deref().unwrap_or("not in Debian's package lists");
                let release = s.newest_installed().ok_or_else(|| {
                    format!("no {}N{} kernel could be installed ({why})", s.prefix, s.suffix)
                })?;
                eprintln!(
                    "setup: the newest {} kernel is not at hand ({why}); using {release}",
                    s.name
                );
                Ok(release)
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const LISTING: &str = "\
linux-image-6.1.0-9-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-6.1.0-57-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-6.1.0-57-cloud-amd64 - Linux 6.1 for x86-64 cloud (signed)
linux-image-6.1.0-58-rt-amd64 - Linux 6.1 for 64-bit PCs, PREEMPT_RT (signed)
linux-image-6.1.0-59-amd64-dbg - Debug symbols for linux-image-6.1.0-59-amd64
linux-image-6.1.0-60-amd64-unsigned - Linux 6.1 for 64-bit PCs
linux-image-6.1.0-56-amd64 - Linux 6.1 for 64-bit PCs (signed)
linux-image-6.12.99+deb12-amd64 - Linux 6.12 for 64-bit PCs (signed)
linux-image-6.12.117+deb12-amd64 - Linux 6.12 for 64-bit PCs (signed)
linux-image-6.12.118+deb12-cloud-amd64 - Linux 6.12 for x86-64 cloud (signed)
linux-image-6.12.115+deb12-amd64 - Linux 6.12 for 64-bit PCs (signed)
";

    #[test]
    fn the_newest_plain_amd64_package_by_number_not_by_text() {
        assert_eq!(SERIES[0].newest(LISTING), Some("linux-image-6.1.0-57-amd64"));
        assert_eq!(SERIES[1].newest(LISTING), Some("linux-image-6.12.117+deb12-amd64"));
        assert_eq!(SERIES[0].newest("linux-image-6.1.0-57-rt-amd64 - x\n"), None);
        assert_eq!(SERIES[1].newest(""), None);
    }

    #[test]
    fn release_is_the_package_name_without_its_prefix() {
        assert_eq!(Series::release("linux-image-6.12.117+deb12-amd64"), "6.12.117+deb12-amd64");
    }

    #[test]
    fn the_kernel_flag() {
        assert_eq!(parse_flag("all").unwrap().len(), 2);
        assert_eq!(parse_flag("6.12").unwrap(), vec![&SERIES[1]]);
        assert_eq!(parse_flag("6.1").unwrap(), vec![&SERIES[0]]);
        assert!(parse_flag("6.6").unwrap_err().contains("6.1, 6.12 or all"));
    }
}
