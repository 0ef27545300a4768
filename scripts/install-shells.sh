#!/usr/bin/env bash
# Best effort: install zsh and fish (Debian packages) for the completion tests. Without
# root or apt-get the tests that need them skip and say why; this never fails the build.
missing=()
for shell in zsh fish; do command -v "$shell" >/dev/null 2>&1 || missing+=("$shell"); done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing ${missing[*]} for the completion tests"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } \
        >/dev/null 2>&1 || echo "could not install ${missing[*]}; their completion tests will skip"
else
    echo "${missing[*]} not installed (needs root and apt-get); their completion tests will skip"
fi
exit 0
