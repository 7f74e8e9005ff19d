#!/usr/bin/env bash
# Checks README.md as a new user meets it: `dotnet new console`, README's install lines (served from the packages this
# build just packed), README's Usage block pasted as Program.cs with no edit, then build and run it.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
packages="${1:-$root/artifacts/packages}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# A package cached from an earlier build of the same version would hide this build's changes.
rm -rf "${NUGET_PACKAGES:-$HOME/.nuget/packages}"/backgroundcache*

cd "$work"
dotnet new console -o app --framework net10.0 >/dev/null
cd app
cat > nuget.config <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="BackgroundCache*" /></packageSource>
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
EOF

# README's install lines, exactly (comments stripped).
sed -n '/^## Install/,/^## /p' "$root/README.md" | grep '^dotnet add package ' | sed 's/#.*$//' | while read -r line; do
  echo "+ $line"
  eval "$line" >/dev/null
done

# README's Usage block, as pasted.
sed -n '/<!-- usage:begin -->/,/<!-- usage:end -->/p' "$root/README.md" | sed '1,2d;$d' | sed '$d' > Program.cs
output="$(dotnet run 2>&1)" || { echo "$output"; echo "README usage block: dotnet run failed" >&2; exit 1; }
echo "$output"
grep -q '1 USD = 7.1 CNY' <<<"$output" || { echo "README usage block: unexpected output" >&2; exit 1; }
echo "README usage block: builds and runs as pasted"
