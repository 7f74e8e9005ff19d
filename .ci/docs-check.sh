#!/usr/bin/env bash
# The docs check: every ```csharp block of README.md and docs/*.md builds against the packages this build packed, and every
# whole program runs. Each block carries a marker on the line directly above its fence (docs/README.md explains them):
#   <!-- snippet: console [packages: A, B] -->   a whole Program.cs of `dotnet new console`: built, then run (must exit 0)
#   <!-- snippet: web [packages: A, B] -->       a whole Program.cs of `dotnet new web`: built, then started (must start)
#   <!-- snippet: fragment [packages: A, B] -->  statements inside a method (services, configuration, builder, app, sp, ct)
#   <!-- snippet: class [packages: A, B] -->     type declarations
#   <!-- snippet: skip (reason) -->              not compiled (an illustration); the reason is required
# A block without a marker fails the check. Fragments and classes are compiled together in one project (one namespace per
# page, stand-in types from docs/snippets/StandIns.cs); each whole program is its own project; all build in one
# `dotnet build`. Compiler errors point at the Markdown file and line (#line). README's first console block (Usage) is
# built in an app made exactly as README's Install section says.
# Usage: .ci/docs-check.sh [packages-folder]   (default artifacts/packages, made by `dotnet pack BackgroundCache.sln -c Release -o artifacts/packages`)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
packages="$(cd "${1:-$root/artifacts/packages}" 2>/dev/null && pwd)" || {
  echo "docs check: no packages folder; run: dotnet pack BackgroundCache.sln -c Release -o artifacts/packages" >&2
  exit 1
}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap cleanup EXIT

fail() { echo "docs check: $*" >&2; exit 1; }

version="$(find "$packages" -maxdepth 1 -name 'BackgroundCache.[0-9]*.nupkg' | sed 's/.*BackgroundCache\.\(.*\)\.nupkg$/\1/' | sort -V | tail -n 1)"
[ -n "$version" ] || fail "no BackgroundCache.*.nupkg in $packages"
own_packages=()
for nupkg in "$packages"/BackgroundCache*."$version".nupkg; do
  own_packages+=("$(basename "$nupkg" ".$version.nupkg")")
done

# Packages come from the packed folder (BackgroundCache*) and, for everything else, from this machine's NuGet cache (as a
# folder source) or nuget.org. A private packages folder, so a cached BackgroundCache of the same version never hides
# this build's changes and concurrent runs never share one.
export NUGET_PACKAGES="$work/nuget-packages"
cache="${HOME}/.nuget/packages"
mkdir -p "$work/gen"
cat > "$work/gen/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <clear />
    <add key="local" value="$packages" />
$( [ -d "$cache" ] && echo "    <add key=\"machine-cache\" value=\"$cache\" />" )
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
  </packageSources>
  <packageSourceMapping>
    <packageSource key="local"><package pattern="BackgroundCache*" /></packageSource>
$( [ -d "$cache" ] && echo "    <packageSource key=\"machine-cache\"><package pattern=\"*\" /></packageSource>" )
    <packageSource key="nuget.org"><package pattern="*" /></packageSource>
  </packageSourceMapping>
</configuration>
EOF

# A package's version: the one Directory.Packages.props pins (properties resolved), else the newest.
package_version() {
  local v
  v="$(sed -n "s/.*<PackageVersion Include=\"$1\" Version=\"\([^\"]*\)\".*/\1/p" "$root/Directory.Packages.props" | head -n 1)"
  while [[ "$v" =~ \$\(([A-Za-z0-9_]+)\) ]]; do
    local prop="${BASH_REMATCH[1]}"
    v="${v/\$($prop)/$(sed -n "s/.*<$prop>\([^<]*\)<\/$prop>.*/\1/p" "$root/Directory.Packages.props" | head -n 1)}"
  done
  echo "${v:-*}"
}

# 1. Extract every C# block with the marker on the line above it: blocks/NNN.cs and a manifest line
#    id <TAB> file <TAB> first line <TAB> marker (or NONE).
mkdir -p "$work/blocks"
cd "$root"
files=(README.md docs/*.md)
awk -v dir="$work/blocks" -v manifest="$work/manifest" '
  FNR == 1 { prev = ""; fence = 0; other = 0 }
  {
    if (fence) {
      if ($0 ~ /^[ \t]*```[ \t]*$/) { fence = 0; close(out); prev = $0; next }
      line = $0
      if (indent > 0 && substr(line, 1, indent) ~ /^[ \t]*$/) line = substr(line, indent + 1)
      print line > out
      next
    }
    if (other) { if ($0 ~ /^[ \t]*```[ \t]*$/) other = 0; prev = $0; next }
    if ($0 ~ /^[ \t]*```[ \t]*(csharp|cs|c#|C#)[ \t]*$/) {
      n++; id = sprintf("%03d", n); out = dir "/" id ".cs"; printf "" > out
      indent = match($0, /[^ \t]/) - 1
      marker = prev
      if (marker ~ /^[ \t]*<!-- snippet: .*-->[ \t]*$/) {
        sub(/^[ \t]*<!-- snippet: /, "", marker); sub(/[ \t]*-->[ \t]*$/, "", marker)
      } else marker = "NONE"
      printf "%s\t%s\t%d\t%s\n", id, FILENAME, FNR + 1, marker > manifest
      fence = 1; next
    }
    if ($0 ~ /^[ \t]*```/) other = 1
    prev = $0
  }' "${files[@]}"
touch "$work/manifest"

# 2. Check the markers before building anything.
declare -A kind_of file_of line_of packages_of dir_of
ids=()
extra_packages=()
while IFS=$'\t' read -r id file line marker; do
  where="$file:$((line - 1))"
  case "$marker" in
    NONE) fail "$where: a \`\`\`csharp block without a marker on the line directly above its fence; add <!-- snippet: console|web|fragment|class [packages: A, B] --> or <!-- snippet: skip (reason) --> (see docs/README.md)" ;;
    skip\ \(?*\)) kind=skip ;;
    skip*) fail "$where: <!-- snippet: skip --> needs a reason: <!-- snippet: skip (why it cannot compile) -->" ;;
    console*|web*|fragment*|class*)
      kind="${marker%% *}"
      rest="${marker#"$kind"}"
      rest="${rest# }"
      pkgs=""
      if [ -n "$rest" ]; then
        [[ "$rest" == packages:* ]] || fail "$where: unexpected '$rest' in the marker (only 'packages: A, B' may follow the kind)"
        pkgs="$(sed 's/^packages://; s/,/ /g' <<<"$rest" | xargs)"
      fi
      [[ "$kind" =~ ^(console|web|fragment|class)$ ]] || fail "$where: unknown snippet kind in '<!-- snippet: $marker -->'"
      ;;
    *) fail "$where: unknown snippet kind in '<!-- snippet: $marker -->' (console, web, fragment, class or skip (reason))" ;;
  esac
  ids+=("$id"); kind_of[$id]="$kind"; file_of[$id]="$file"; line_of[$id]="$line"; packages_of[$id]="${pkgs:-}"
  if [[ "$kind" == fragment || "$kind" == class ]]; then
    for p in ${pkgs:-}; do extra_packages+=("$p"); done
  fi
done < "$work/manifest"
[ "${#ids[@]}" -gt 0 ] || fail "no C# block found in ${files[*]}"

# 3. Generate the projects.
references() { # own packages, then the given extra packages
  for p in "${own_packages[@]}"; do echo "    <PackageReference Include=\"$p\" Version=\"$version\" />"; done
  for p in "$@"; do echo "    <PackageReference Include=\"$p\" Version=\"$(package_version "$p")\" />"; done
}
page_namespace() { sed 's/\.md$//; s/[^A-Za-z0-9]/_/g; s/^/DocSnippets./' <<<"$1"; }
# Leading using directives of a fragment or class go to the top of its file; they become blank lines in place, so #line
# keeps every line where the page has it.
hoist_usings() { awk -v usings="$2" -v body="$3" '
  !done && /^[ \t]*using [A-Za-z0-9_.= <>,]+;[ \t]*(\/\/.*)?$/ && !/^[ \t]*using *\(/ && !/^[ \t]*using +var / { print > usings; print "" > body; next }
  !done && /^[ \t]*(\/\/.*)?$/ { print > body; next }
  { done = 1; print > body }' "$1"; }

mkdir -p "$work/gen/Fragments"
cp "$root/docs/snippets/StandIns.cs" "$work/gen/Fragments/StandIns.cs"
solution_projects=("gen/Fragments/Fragments.csproj")
programs=()
fragments=0
classes=0
skipped=0
for id in "${ids[@]}"; do
  kind="${kind_of[$id]}"; file="${file_of[$id]}"; line="${line_of[$id]}"
  case "$kind" in
    skip) skipped=$((skipped + 1)) ;;
    fragment|class)
      : > "$work/usings"; : > "$work/body"
      hoist_usings "$work/blocks/$id.cs" "$work/usings" "$work/body"
      {
        cat "$work/usings"
        if [ "$kind" = class ] && grep -q '^namespace ' "$work/body"; then
          echo "#line $line \"$root/$file\""; cat "$work/body"
        else
          echo "namespace $(page_namespace "$file");"
          if [ "$kind" = class ]; then
            echo "#line $line \"$root/$file\""; cat "$work/body"
          else
            echo "internal static class Snippet$id"
            echo "{"
            echo "    internal static async Task RunAsync(IServiceCollection services, IConfiguration configuration, WebApplicationBuilder builder, WebApplication app, IServiceProvider sp, CancellationToken ct)"
            echo "    {"
            echo "#line $line \"$root/$file\""
            cat "$work/body"
            echo "#line default"
            echo "    }"
            echo "}"
          fi
        fi
      } > "$work/gen/Fragments/Block$id.cs"
      if [ "$kind" = class ]; then classes=$((classes + 1)); else fragments=$((fragments + 1)); fi
      ;;
    console|web)
      project="Program$id"
      # shellcheck disable=SC2086
      read -r -a pkgs <<<"${packages_of[$id]}"
      if [ "$kind" = console ] && [ "$file" = README.md ] && [ -z "${readme_usage:-}" ]; then
        # README's Usage block: in an app made exactly as README's Install section says, outside the generated folder (so
        # only the nuget.config those lines write applies).
        readme_usage="$id"
        dir="app"
        (cd "$work" && dotnet new console -o "$dir" -n "$project" --framework net10.0 >/dev/null)
        install="$(sed -n '/^## Install/,/^## /p' "$root/README.md" | grep -E '^(dotnet new nugetconfig|dotnet nuget add source|dotnet add package)' | sed 's/[[:space:]]#.*$//')"
        [ -n "$install" ] || fail "README.md: the Install section has no dotnet add package line"
        while read -r command; do
          command="${command//\/path\/to\/BackgroundCache\/artifacts\/packages/$packages}"
          echo "+ $command"
          (cd "$work/$dir" && eval "$command" >"$work/install.log" 2>&1) || { cat "$work/install.log" >&2; fail "README.md Install: '$command' failed"; }
        done <<<"$install"
      else
        dir="gen/$project"
        mkdir -p "$work/$dir"
        sdk=Microsoft.NET.Sdk; [ "$kind" = web ] && sdk=Microsoft.NET.Sdk.Web
        cat > "$work/$dir/$project.csproj" <<EOF
<Project Sdk="$sdk">
  <PropertyGroup>
    <OutputType>Exe</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
  </PropertyGroup>
  <ItemGroup>
$(references "${pkgs[@]}")
  </ItemGroup>
</Project>
EOF
      fi
      dir_of[$id]="$dir"
      { echo "#line $line \"$root/$file\""; cat "$work/blocks/$id.cs"; } > "$work/$dir/Program.cs"
      if [ "$dir" = app ]; then
        readme_app="$dir/$project.csproj" # built on its own: one restore per nuget.config (see step 4)
      else
        solution_projects+=("$dir/$project.csproj")
      fi
      programs+=("$id")
      ;;
  esac
done

mapfile -t extra_packages < <(printf '%s\n' "${extra_packages[@]}" | sed '/^$/d' | sort -u)
cat > "$work/gen/Fragments/Fragments.csproj" <<EOF
<Project Sdk="Microsoft.NET.Sdk.Web">
  <!-- The pages' fragments (one method each) and classes, with the usings every fragment may assume. -->
  <PropertyGroup>
    <OutputType>Library</OutputType>
    <TargetFramework>net10.0</TargetFramework>
    <ImplicitUsings>enable</ImplicitUsings>
    <Nullable>enable</Nullable>
    <NoWarn>\$(NoWarn);CS1998;CS0168;CS0219;CS8321;CS4014</NoWarn>
  </PropertyGroup>
  <ItemGroup>
$(references "${extra_packages[@]}")
  </ItemGroup>
  <ItemGroup>
    <Using Include="System.Net.Http" />
    <Using Include="Microsoft.Extensions.Caching.Memory" />
    <Using Include="Microsoft.Extensions.Configuration" />
    <Using Include="Microsoft.Extensions.DependencyInjection" />
    <Using Include="Microsoft.Extensions.Diagnostics.HealthChecks" />
    <Using Include="Microsoft.Extensions.Hosting" />
    <Using Include="Microsoft.Extensions.Logging" />
    <Using Include="Microsoft.Extensions.Options" />
    <Using Include="Microsoft.AspNetCore.Builder" />
    <Using Include="Microsoft.AspNetCore.Http" />
    <Using Include="Microsoft.AspNetCore.Routing" />
    <Using Include="BackgroundCache" />
    <Using Include="BackgroundCache.StackExchangeRedis" />
    <Using Include="BackgroundCache.TokenHub" />
    <Using Include="BackgroundCache.WeChat" />
    <Using Include="BackgroundCache.WeChat.Testing" />
$(for p in "${extra_packages[@]}"; do
    case "$p" in
      Microsoft.Extensions.TimeProvider.Testing) echo '    <Using Include="Microsoft.Extensions.Time.Testing" />' ;;
      Microsoft.Extensions.Http.Resilience) echo '    <Using Include="Microsoft.Extensions.Http.Resilience" />' ;;
      Microsoft.Extensions.Diagnostics.Testing) echo '    <Using Include="Microsoft.Extensions.Logging.Testing" />'; echo '    <Using Include="Microsoft.Extensions.Diagnostics.Metrics.Testing" />' ;;
    esac
  done)
  </ItemGroup>
</Project>
EOF

{
  echo '<Solution>'
  for p in "${solution_projects[@]}"; do echo "  <Project Path=\"$p\" />"; done
  echo '</Solution>'
} > "$work/docs.slnx"

# 4. Build everything; report the first block that does not build. README's app has its own nuget.config (the one its
# Install lines wrote): it is restored and built on its own, never in one restore with the generated projects, whose
# nuget.config differs (one CI run restored the generated projects against a mix of both files' sources, NU1100).
echo "docs check: building $fragments fragments and $classes classes (one project) and ${#programs[@]} programs from ${files[*]}"
build_or_fail() { # $1: the folder to build in, $2: the project or solution
  if ! (cd "$work/$1" && dotnet build "$2" -c Release -tl:off -nologo -v:q -p:TreatWarningsAsErrors=false >"$work/build.log" 2>&1); then
    errors="$(grep -E ': error [A-Z]+[0-9]+' "$work/build.log" | sed "s#$root/##; s# \[[^]]*\]\$##; s/^\([^(]*\)(\([0-9]*\),\([0-9]*\)): /\1:\2:\3: /" | LC_ALL=C sort -u -t: -k1,1 -k2,2n -k3,3n || true)"
    if [ -z "$errors" ]; then cat "$work/build.log" >&2; fail "the build failed (log above)"; fi
    first="$(head -n 1 <<<"$errors")"
    echo "$errors" | head -n 20 >&2
    error_file="$(cut -d: -f1 <<<"$first")"; error_line="$(cut -d: -f2 <<<"$first")"
    block_line="$(awk -F'\t' -v f="$error_file" -v l="$error_line" '$2 == f && $3 <= l { s = $3 - 1 } END { print s }' "$work/manifest")"
    fail "the first block that does not build: the one at $error_file:${block_line:-?} (first error at line $error_line)"
  fi
}
if [ -n "${readme_app:-}" ]; then
  build_or_fail "$(dirname "$readme_app")" "$(basename "$readme_app")"
fi
build_or_fail . docs.slnx

# 5. Run the whole programs: console ones must exit 0, web ones must start (then they are stopped).
ran=0
for id in "${programs[@]}"; do
  file="${file_of[$id]}"; line="${line_of[$id]}"; project="Program$id"
  dir="$work/${dir_of[$id]}"
  dll="$(find "$dir/bin/Release" -name "$project.dll" | head -n 1)"
  log="$work/$project.log"
  if [ "${kind_of[$id]}" = console ]; then
    if ! (cd "$dir" && timeout 60 dotnet "$dll" </dev/null >"$log" 2>&1); then
      cat "$log" >&2
      fail "$file:$((line - 1)): the program did not run to completion (exit code above, 60 s limit)"
    fi
  else
    (cd "$dir" && ASPNETCORE_ENVIRONMENT=Development ASPNETCORE_URLS=http://127.0.0.1:0 exec dotnet "$dll" </dev/null >"$log" 2>&1) &
    pid=$!
    pids+=("$pid")
    started=0
    for _ in $(seq 1 600); do
      if grep -q 'Application started' "$log"; then started=1; break; fi
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    if [ "$started" -ne 1 ]; then
      cat "$log" >&2
      fail "$file:$((line - 1)): the web app did not start (log above, 60 s limit)"
    fi
  fi
  ran=$((ran + 1))
done

echo "docs check: $((fragments + classes + ${#programs[@]})) C# blocks compiled ($fragments fragments, $classes classes, ${#programs[@]} whole programs, of which $ran ran), $skipped skipped with a reason"
