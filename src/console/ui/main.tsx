/**
 * The operator console: sign in with a key, then one page per job, each over the public API.
 * Routing is the URL hash (`#/providers`), so every page has a link and the browser's back button works.
 */
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { ApiError, type Identity, storedKey, storeKey, whoAmI } from "./api.ts";
import { ErrorBox } from "./components.tsx";
import { PAGES, type PageDef } from "./pages/index.ts";

function currentPath(): string {
  return location.hash.replace(/^#\/?/, "").split("?")[0] || "overview";
}

function SignIn({ onSignedIn, error }: { onSignedIn: (key: string, who: Identity) => void; error?: ApiError | undefined }) {
  const [key, setKey] = useState("");
  const [err, setErr] = useState<ApiError | undefined>(error);
  const [busy, setBusy] = useState(false);
  return (
    <main class="signin">
      <form
        id="signin"
        onSubmit={async (e) => {
          e.preventDefault();
          setBusy(true);
          setErr(undefined);
          try {
            onSignedIn(key, await whoAmI(key));
          } catch (x) {
            setErr(x instanceof ApiError ? x : new ApiError(0, "console_error", String(x)));
          } finally {
            setBusy(false);
          }
        }}
      >
        <h1>Tollgate console</h1>
        <p>Sign in with the gateway's admin key to run everything, or with a virtual key (<code>tg-…</code>) for its tenant's own read-only view. The key stays in this browser tab and is sent only to this gateway.</p>
        <label for="signin-key">Key</label>
        <input id="signin-key" name="key" type="password" autocomplete="off" spellcheck={false} value={key} onInput={(e) => setKey((e.currentTarget as HTMLInputElement).value)} required />
        <ErrorBox error={err} />
        <button type="submit" disabled={busy || !key}>Sign in</button>
      </form>
    </main>
  );
}

function Shell({ who, onSignOut }: { who: Identity; onSignOut: () => void }) {
  const [path, setPath] = useState(currentPath());
  const [menu, setMenu] = useState(false);
  useEffect(() => {
    const on = () => {
      setPath(currentPath());
      setMenu(false);
    };
    addEventListener("hashchange", on);
    return () => removeEventListener("hashchange", on);
  }, []);
  const pages = PAGES.filter((p) => who.kind === "admin" || p.tenantView);
  const page: PageDef = pages.find((p) => p.path === path.split("/")[0]) ?? pages[0]!;
  const View = page.view;
  return (
    <div class="shell">
      <header class="top">
        <a class="brand" href="#/overview">Tollgate <span>console</span></a>
        <button type="button" class="menu-toggle" aria-expanded={menu} aria-controls="nav" onClick={() => setMenu(!menu)}>Menu</button>
        <span class="who" data-who={who.kind}>{who.kind === "admin" ? `admin (${who.role ?? "owner"})` : `tenant ${who.tenant ?? ""} · read-only`}</span>
        <button type="button" id="signout" onClick={onSignOut}>Sign out</button>
      </header>
      <nav id="nav" class={menu ? "open" : ""} aria-label="Console pages">
        <ul>
          {pages.map((p) => (
            <li key={p.path}>
              {p.external ? (
                <a href={p.external}>{p.title}</a>
              ) : (
                <a href={`#/${p.path}`} aria-current={p === page ? "page" : undefined}>{p.title}</a>
              )}
            </li>
          ))}
        </ul>
      </nav>
      <main id="main" data-page={page.path}>
        <View who={who} sub={path.split("/").slice(1)} />
      </main>
    </div>
  );
}

function App() {
  const [who, setWho] = useState<Identity | undefined>();
  const [checking, setChecking] = useState(!!storedKey());
  const [error, setError] = useState<ApiError | undefined>();
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    whoAmI(key).then(
      (w) => {
        setWho(w);
        setChecking(false);
      },
      (e: unknown) => {
        storeKey("");
        setError(e instanceof ApiError ? e : undefined);
        setChecking(false);
      },
    );
  }, []);
  if (checking) return <p class="boot">Checking the key…</p>;
  if (!who)
    return (
      <SignIn
        error={error}
        onSignedIn={(key, w) => {
          storeKey(key);
          setWho(w);
        }}
      />
    );
  return (
    <Shell
      who={who}
      onSignOut={() => {
        storeKey("");
        setWho(undefined);
        location.hash = "";
      }}
    />
  );
}

const root = document.getElementById("app")!;
root.textContent = ""; // the "Loading…" placeholder of the static page
render(<App />, root);
