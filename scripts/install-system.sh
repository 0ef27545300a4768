#!/usr/bin/env bash
# Best effort: install the Debian packages that some tests run for real.
#   zsh, fish                      the completion tests
#   gnome-keyring, dbus-daemon     a real Secret Service for the credential-store tests
#   pass, gnupg                    a real secret manager for the --password-command tests
#   prometheus                     a real Prometheus scraping `conn exporter`
# Without root or apt-get the tests that need them skip and say why (in CI, where
# CI=true, they fail instead); this script itself never fails the build.
want=(zsh fish gnome-keyring dbus-daemon pass gnupg prometheus)
have() {
    case "$1" in
        gnome-keyring) command -v gnome-keyring-daemon ;;
        dbus-daemon) command -v dbus-daemon && command -v dbus-run-session ;;
        gnupg) command -v gpg ;;
        *) command -v "$1" ;;
    esac
}
missing=()
for package in "${want[@]}"; do have "$package" >/dev/null 2>&1 || missing+=("$package"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for the tests that run them"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
        apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >/dev/null 2>&1 \
        || echo "could not install ${missing[*]}; the tests that need them will skip"
else
    echo "${missing[*]} not installed (needs root and apt-get); the tests that need them will skip"
fi
exit 0
