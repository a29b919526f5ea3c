"""Settings: the only place that reads ``TRELLIS_*`` environment variables.

Every setting has a safe default so that a newcomer needs nothing but Python. ``create_app(config)``
may override any of them with a mapping of the same names (without the ``TRELLIS_`` prefix, in
upper case), which is how tests build apps with different plugin sets in one process.
"""
from __future__ import annotations

import importlib.util
import os
import secrets
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any, Mapping
from urllib.parse import urlsplit

ENV_PREFIX = "TRELLIS_"
ENVIRONMENTS = ("development", "production")
LOG_FORMATS = ("text", "json")
#: Settings shown masked by ``trellis config check``: names ending in one of these words or containing
#: ``secret`` (``secret_key``, a plugin's ``…_api_token``; not ``graphql_max_tokens``), and URL passwords.
SECRET_ENDINGS = ("secret", "password", "token", "key", "dsn")


def _default_instance_path() -> str:
    return str(Path.cwd() / "instance")


@dataclass(frozen=True)
class PluginSetting:
    """A setting a plugin declares through ``trellis_settings``: read from ``TRELLIS_<NAME>`` (or the
    ``create_app`` config key ``<NAME>``), coerced to the type of ``default``."""

    name: str
    default: Any
    description: str = ""


@dataclass(frozen=True)
class Settings:
    """The typed view of Trellis' configuration. Field ``database_url`` is read from
    ``TRELLIS_DATABASE_URL``, and so on for every field."""

    #: ``development`` or ``production``. Production refuses to start without an explicit secret key.
    env: str = "development"
    #: SQLAlchemy URL. Default: an SQLite file ``trellis.db`` in the instance folder.
    database_url: str = ""
    #: Signs session cookies. Default: a random key per process (sessions end on restart).
    secret_key: str = ""
    #: ``all`` or a comma-separated list of plugin names to enable.
    plugins: str = "all"
    #: Where the default SQLite file lives.
    instance_path: str = field(default_factory=_default_instance_path)
    #: Where files uploaded to ``POST /api/v1/imports`` wait for the worker. Default: ``<instance_path>/imports``;
    #: with several hosts, a directory they share.
    import_path: str = ""
    #: Where queued exports (``POST /api/v1/exports/<type>/jobs``) write their files, which are downloaded
    #: from there. Default: ``<instance_path>/exports``; with several hosts, a directory they share (the
    #: worker writes, any web process serves).
    export_path: str = ""
    #: Hours a queued export's file is kept after it is written; then the job ``exports.expire`` removes it
    #: (the job's row stays, ``expired``). 1..8760.
    export_retention_hours: int = 24
    #: Log SQL statements (debugging only).
    sql_echo: bool = False
    #: PostgreSQL connections each process keeps open (SQLAlchemy's ``pool_size``; 1..200): at least the
    #: requests a web worker serves at once (gunicorn ``--threads``, 1 for sync workers). Each process
    #: may open ``db_pool_size + db_max_overflow``: keep that times the processes under the server's
    #: ``max_connections`` (docs/deployment.md, "Connections"). SQLite ignores the three.
    db_pool_size: int = 5
    #: Connections a process may open past ``db_pool_size`` at a peak, closed when returned (0..200).
    db_max_overflow: int = 10
    #: Seconds a request waits for a free connection before it fails with a 503 (0 < t <= 300).
    db_pool_timeout: float = 30.0
    #: Seconds a pooled PostgreSQL connection may sit unused and still be handed out untested; one idle
    #: longer is tested with a round trip first and replaced if the database dropped it (0..3600; 0: test
    #: at every checkout, as SQLAlchemy's ``pool_pre_ping``). docs/deployment.md, "Connections".
    db_ping_idle_seconds: float = 1.0
    #: Rows a list's total counts at most (``X-Pagination``'s ``total``, GraphQL's ``totalCount``): past it
    #: the total says this number and ``total_capped`` / ``totalCountCapped`` say there are more, so the
    #: first page of a list of millions costs what it costs at ten thousand (at 2,000 most filters'
    #: counts at 1 M customers stay within 2× of their cost at 10 k; docs/performance.md). 0: count every
    #: row.
    list_count_limit: int = 2000
    #: ``text`` or ``json``: how log lines are written to stderr (json: one object per line, with the
    #: request id and the access fields; api/logs.py).
    log_format: str = "text"
    #: Report unhandled errors to Sentry (or a Sentry-compatible server such as GlitchTip) at this DSN,
    #: with the request id, method, path and user id. Needs ``pip install 'trellis-crm[sentry]'``.
    sentry_dsn: str = ""
    #: Maximum depth of a GraphQL query; deeper queries are refused before they run.
    graphql_max_depth: int = 10
    #: Maximum number of aliases in one GraphQL document.
    graphql_max_aliases: int = 30
    #: Maximum number of tokens in one GraphQL document.
    graphql_max_tokens: int = 5000
    #: Maximum estimated cost of one GraphQL operation: about the number of records it may load (page
    #: sizes multiplied along nested lists; api/graphql/limits.py). Costlier operations are refused.
    graphql_max_cost: int = 25000
    #: Largest request body in bytes (413 above it); a few endpoints set their own (docs/security.md).
    max_request_bytes: int = 1024 * 1024
    #: Password hashing method for werkzeug (``scrypt`` by default; tests use a cheaper one).
    password_hash_method: str = "scrypt"
    #: Mark the session cookie ``Secure`` (set to 1 behind HTTPS).
    secure_cookies: bool = False
    #: Where rate-limit counters live (a ``limits`` storage URI, api/rate_limits.py). ``memory://`` is
    #: per process; with several gunicorn workers use a shared store: ``redis://127.0.0.1:6379``.
    ratelimit_storage_uri: str = "memory://"
    #: Failed sign-ins allowed per account (email) before further attempts are refused with 429.
    login_account_limit: str = "5 per 15 minutes"
    #: Failed sign-ins allowed per client address (any accounts) before it is refused with 429.
    login_address_limit: str = "20 per 15 minutes"
    #: Reverse proxies in front of Trellis whose ``X-Forwarded-For`` is trusted to name the client
    #: address (0: the address the server sees, for a direct connection).
    proxy_hops: int = 0
    #: Web origins (``scheme://host[:port]``, comma-separated) whose pages may call the API from the
    #: browser with the user's cookie (CORS). Default: none, only pages Trellis serves itself.
    cors_origins: str = ""
    #: Expected days per lifecycle stage before a stagnation alert, ``stage=days`` comma-separated.
    lifecycle_expected_days: str = "potential=15,intent=30"
    #: Customer level rules: ``level=metric>=threshold`` comma-separated, best level first. Metrics:
    #: ``revenue_12m`` (purchase total over 12 months) and ``purchases_12m`` (their count).
    #: The last level without a rule is the default.
    level_rules: str = "A=revenue_12m>=100000,B=revenue_12m>=20000,C=revenue_12m>=1,D"
    #: Seconds between webhook delivery attempts: the n-th retry waits base * 2**n (capped at a day).
    webhook_retry_base_seconds: int = 60
    #: Attempts before a webhook delivery is marked failed (it can be replayed).
    webhook_max_attempts: int = 8
    #: Let webhooks target loopback, private, link-local and other non-public addresses (off: such a URL
    #: is refused with 422, and a delivery whose host resolves to one fails). Only for receivers on your
    #: own network you trust — it lets an admin make the server POST anywhere it can reach.
    webhook_allow_private_targets: bool = False
    #: Seconds a webhook POST may take to connect, and then between bytes of the answer (0 < t <= 120);
    #: a slower receiver is a failed attempt.
    webhook_timeout: float = 5.0
    #: Webhook POSTs one ``deliver_due`` run (a worker) has in flight at once, each to a different
    #: subscription (1..64): a slow receiver holds one of them, the others keep sending.
    webhook_concurrency: int = 8
    #: Failed attempts in a row after which a subscription's circuit breaker opens: nothing is sent to
    #: it until the cooldown has passed, then one trial delivery (docs/webhooks.md).
    webhook_breaker_threshold: int = 5
    #: Seconds an open breaker waits before its trial; doubled after each failed trial, at most an hour
    #: (or this, when longer).
    webhook_breaker_cooldown_seconds: int = 60
    #: Seconds a process keeps the list of active webhook subscriptions (id and event patterns) it queues
    #: deliveries by, so a request does not read it; a change made in the process is seen at once, one
    #: made in another process (worker, command) within this. 0: read it in every unit of work.
    webhook_subscriptions_cache_seconds: int = 5
    # --- operations metrics (docs/deployment.md, "Metrics (Prometheus)") ---
    #: Serve ``GET /metrics`` (Prometheus text format) and count requests for it; 0: no such endpoint (404).
    metrics_enabled: bool = True
    #: The bearer token a scraper sends (``Authorization: Bearer …``). Set: /metrics answers it from any
    #: address and 401s everything else. Not set: /metrics answers only ``metrics_allow`` addresses.
    metrics_token: str = ""
    #: Without a token: the client addresses (CIDR, comma-separated) /metrics answers; others get 403.
    #: A request that came through a proxy Trellis does not trust (``X-Forwarded-For`` and no
    #: ``TRELLIS_PROXY_HOPS``) is refused too, as its client is unknown.
    metrics_allow: str = "127.0.0.1/32,::1/128"
    #: With several gunicorn workers: a directory (wiped at gunicorn's start, api/gunicorn_conf.py) where
    #: every process writes its counters, so one scrape adds up all of them. Empty: this process's own.
    metrics_multiproc_dir: str = ""
    # --- background work (docs/deployment.md, "Background work") ---
    #: When every scheduled job runs: a cron expression, 5 fields, or 6 with seconds last
    #: (``* * * * * */10``: every 10 s). On PostgreSQL each job runs once per period for the whole
    #: cluster, however many workers run.
    job_schedule: str = "* * * * *"
    #: Jobs one ``trellis worker`` runs at once (``--concurrency`` overrides it).
    worker_concurrency: int = 2
    #: A worker whose heartbeat is older than this many seconds counts as dead: its running jobs are
    #: retried by the other workers, and ``/readyz`` (with workers expected) answers 503 when none is
    #: alive. Workers beat every third of it.
    worker_stalled_seconds: int = 30
    #: Whether workers are expected (``trellis worker`` runs): then ``/readyz`` also checks a fresh worker
    #: heartbeat and the webhook backlog.
    workers_expected: bool = False
    #: With workers expected, ``/readyz`` answers 503 when a webhook delivery has been due for longer.
    worker_backlog_seconds: int = 300
    # --- holidays (core/holiday_calendar.py) ---
    #: The official holiday calendar occasions and holiday campaigns follow: a country code of the
    #: ``holidays`` package (``CN``: Spring Festival, Qingming, Dragon Boat, Mid-Autumn, National Day …,
    #: with the lunar festivals Lantern, Qixi, Double Ninth and Laba; ``HK``, ``TW``, ``US`` …).
    holiday_calendar: str = "CN"
    #: A subdivision of that country (a province or state code the package knows), or empty.
    holiday_subdivision: str = ""
    # --- customer analytics (docs/analytics.md §8) ---
    #: Days of purchases behind the RFM frequency and monetary values and the value tiers.
    analytics_window_days: int = 365
    #: The RFM segment grid: five rows for R = 5, 4, 3, 2, 1 separated by ``;``, each five segment keys
    #: for F = 1..5 separated by ``,``. Empty: the default grid of docs/analytics.md.
    analytics_rfm_grid: str = ""
    #: Labels of extra (or renamed) RFM segment keys: ``key=English|中文`` separated by ``;``.
    analytics_rfm_labels: str = ""
    #: Value tiers 大客户/重要客户/普通客户/小客户: where each tier ends, as cumulative revenue shares.
    analytics_tier_cuts: str = "0.5,0.8,0.95"
    #: k-means: the range of k tried (the best silhouette wins).
    analytics_k_min: int = 2
    analytics_k_max: int = 8
    #: CLV (BG/NBD + Gamma-Gamma): horizon in months, discount rate per month, profit margin (1 = revenue).
    analytics_clv_horizon_months: int = 12
    analytics_clv_discount_rate: float = 0.01
    analytics_clv_margin: float = 1.0
    #: The seed formula V = (P0 - C0) + sum R/(1+i)^n: acquisition cost C0, yearly rate i, years N.
    analytics_seed_acquisition_cost: float = 0.0
    analytics_seed_interest_rate: float = 0.08
    analytics_seed_years: int = 3
    #: Churn: the last period (days) compared with the average of the periods before it.
    analytics_churn_period_days: int = 90
    analytics_churn_baseline_periods: int = 4
    #: Flag when the last period's revenue fell by at least this share of the baseline.
    analytics_churn_drop: float = 0.5
    #: Flag when the days since the last purchase exceed this many usual gaps (and the minimum days).
    analytics_churn_gap_factor: float = 3.0
    analytics_churn_min_gap_days: int = 30
    #: Flag when P(alive) falls under this.
    analytics_churn_p_alive: float = 0.3
    #: Days until a churn or win-back task is due.
    analytics_task_due_days: int = 3
    #: ``trellis tick`` recomputes the analytics when the last run is older than this many hours.
    analytics_refresh_hours: int = 24
    # --- materialised metric results (docs/metrics.md, "Materialised results") ---
    #: A metric answer whose computation took at least this many milliseconds is stored (``metric_result``)
    #: and served to the same scope until it is ``metric_result_max_age`` old; a quicker one is answered
    #: live and nothing is stored. 0: store every answer.
    metric_materialise_after_ms: int = 500
    #: Seconds a stored metric result is served; an older one is computed again in the request (and the
    #: job ``metrics.refresh`` recomputes the ones asked for within a day once they are half this old).
    metric_result_max_age: int = 300

    #: create_app overrides no core setting claimed (plugin settings are resolved from them)
    unclaimed: dict = field(default_factory=dict, compare=False, repr=False, metadata={"internal": True})
    #: the environment variables that did not parse (their settings keep the default), one message each
    unparsed: tuple = field(default=(), compare=False, repr=False, metadata={"internal": True})
    #: the values of plugin-declared settings, readable as attributes (``settings.retail_membership_basis``)
    plugin_values: dict = field(default_factory=dict, compare=False, repr=False, metadata={"internal": True})

    def __getattr__(self, name: str) -> Any:
        values = self.__dict__.get("plugin_values") or {}
        if name in values:
            return values[name]
        raise AttributeError(f"No setting named '{name}'.")

    def expected_days(self) -> dict[str, float]:
        """``lifecycle_expected_days`` parsed: ``{"potential": 15.0, ...}``."""
        out = {}
        for part in self.lifecycle_expected_days.split(","):
            if "=" in part:
                key, _, value = part.partition("=")
                out[key.strip()] = float(value)
        return out

    @property
    def cors_origin_list(self) -> list[str]:
        """``cors_origins`` parsed; an entry that is not a bare http(s) origin is a start-up error."""
        out = []
        for part in self.cors_origins.split(","):
            origin = part.strip().rstrip("/")
            if not origin:
                continue
            parts = urlsplit(origin)
            if parts.scheme not in ("http", "https") or not parts.hostname or "*" in origin or parts.path or parts.query \
                    or parts.fragment or parts.username or parts.password:
                from core.errors import ConfigError

                raise ConfigError(f"TRELLIS_CORS_ORIGINS: {part.strip()!r} is not an origin; write "
                                 "scheme://host[:port], e.g. http://localhost:5173 (no path, no wildcard).")
            out.append(origin.lower())
        return out

    @property
    def metrics_networks(self) -> list:
        """``metrics_allow`` parsed (``ipaddress`` networks); an entry that is not one is a start-up error."""
        import ipaddress

        out = []
        for part in self.metrics_allow.split(","):
            if not part.strip():
                continue
            try:
                out.append(ipaddress.ip_network(part.strip(), strict=False))
            except ValueError:
                from core.errors import ConfigError

                raise ConfigError(f"TRELLIS_METRICS_ALLOW: {part.strip()!r} is not an address or network; write "
                                  "CIDRs, comma-separated, e.g. 127.0.0.1/32,::1/128,10.0.0.0/8.") from None
        return out

    def problems(self) -> list[str]:
        """What stops the start, one sentence each naming the variable (checked by :func:`load_settings`
        and reported by ``trellis config check``)."""
        from core.errors import ConfigError

        out = list(self.unparsed)
        if self.env not in ENVIRONMENTS:
            out.append(f"TRELLIS_ENV: {self.env!r} is not one of {', '.join(ENVIRONMENTS)}.")
        if self.env == "production" and not self.secret_key:
            out.append("TRELLIS_ENV=production needs an explicit TRELLIS_SECRET_KEY (python3 -c 'import secrets; "
                       "print(secrets.token_hex(32))'); a random one would sign everyone out on every restart "
                       "and differ between workers.")
        if self.worker_concurrency < 1:
            out.append(f"TRELLIS_WORKER_CONCURRENCY: {self.worker_concurrency} is not a number of jobs (1 or more).")
        if self.worker_stalled_seconds < 1:
            out.append(f"TRELLIS_WORKER_STALLED_SECONDS: {self.worker_stalled_seconds} is not a number of seconds "
                       "(1 or more).")
        if not _valid_cron(self.job_schedule):
            out.append(f"TRELLIS_JOB_SCHEDULE: {self.job_schedule!r} is not a cron expression; write 5 fields "
                       "('*/2 * * * *': every 2 minutes) or 6 with seconds last ('* * * * * */10').")
        if self.log_format not in LOG_FORMATS:
            out.append(f"TRELLIS_LOG_FORMAT: {self.log_format!r} is not one of {', '.join(LOG_FORMATS)}.")
        if self.sentry_dsn and importlib.util.find_spec("sentry_sdk") is None:
            out.append("TRELLIS_SENTRY_DSN is set but sentry-sdk is not installed: pip install 'trellis-crm[sentry]'.")
        if (self.holiday_calendar.upper(), self.holiday_subdivision) != ("CN", ""):
            # a calendar other than the default is checked at start-up; the default needs no check, and
            # importing the holidays package for it cost every process and command 80 ms of CPU
            from core.holiday_calendar import check as check_calendar

            calendar_problem = check_calendar(self.holiday_calendar, self.holiday_subdivision)
            if calendar_problem:
                out.append(f"TRELLIS_HOLIDAY_CALENDAR / TRELLIS_HOLIDAY_SUBDIVISION: {calendar_problem}")
        for name in ("login_account_limit", "login_address_limit"):
            value = getattr(self, name)
            if value != Settings.__dataclass_fields__[name].default:   # the defaults parse: no import for them
                from limits import parse

                try:
                    refused = parse(value).amount < 1
                except ValueError:
                    refused = True
                if refused:
                    out.append(f"{ENV_PREFIX}{name.upper()}: {value!r} is not a rate limit; write "
                               "'<count of 1 or more> per <period>', e.g. '5 per 15 minutes' or '20/hour'.")
        for name, low, high, expected in _BOUNDS:
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or isinstance(value, bool) or not low < value <= high:
                out.append(f"{ENV_PREFIX}{name.upper()}: {value!r} is not {expected}.")
        try:
            self.cors_origin_list
            self.metrics_networks
            self.enabled_plugin_names
        except ConfigError as exc:
            out.append(str(exc))
        return out

    @property
    def enabled_plugin_names(self) -> list[str] | None:
        """None means every installed plugin (``all``, ``*`` or empty); ``none`` (or ``core``) means the
        core alone; otherwise the listed plugins (the core is always on, so naming it changes nothing)."""
        value = self.plugins.strip()
        if value.lower() in ("", "all", "*"):
            return None
        names = [name.strip() for name in value.split(",") if name.strip()]
        if "none" in (n.lower() for n in names):
            if len(names) > 1:
                from core.errors import ConfigError

                raise ConfigError(f"TRELLIS_PLUGINS: 'none' cannot be combined with plugin names ({value!r}).")
            return []
        return [name for name in names if name != "core"]

    def db_pool(self) -> dict[str, Any]:
        """The connection pool's size, as SQLAlchemy's ``create_engine`` takes it."""
        return {"pool_size": self.db_pool_size, "max_overflow": self.db_max_overflow,
                "pool_timeout": self.db_pool_timeout, "ping_idle_seconds": self.db_ping_idle_seconds}

    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        Path(self.instance_path).mkdir(parents=True, exist_ok=True)
        return f"sqlite:///{Path(self.instance_path) / 'trellis.db'}"


#: ``(setting, exclusive low, inclusive high, what is expected)`` checked by :meth:`Settings.problems`
_BOUNDS = (
    ("db_pool_size", 0, 200, "a whole number of connections from 1 to 200"),
    ("db_max_overflow", -1, 200, "a whole number of connections from 0 to 200"),
    ("db_pool_timeout", 0, 300, "a number of seconds more than 0 and at most 300, e.g. 30"),
    ("db_ping_idle_seconds", -1e-9, 3600, "a number of seconds from 0 to 3600, e.g. 1 or 0.5"),  # 0 included
    ("list_count_limit", -1, 10**9, "a whole number of rows, e.g. 10000 (0: count every row)"),
    ("export_retention_hours", 0, 8760, "a whole number of hours from 1 to 8760, e.g. 24"),
    ("webhook_timeout", 0, 120, "a number of seconds more than 0 and at most 120, e.g. 5 or 2.5"),
    ("webhook_concurrency", 0, 64, "a whole number from 1 to 64"),
    ("webhook_breaker_threshold", 0, 1000, "a whole number from 1 to 1000"),
    ("webhook_breaker_cooldown_seconds", 0, 86400, "a whole number of seconds from 1 to 86400"),
    ("webhook_subscriptions_cache_seconds", -1, 3600, "a whole number of seconds from 0 to 3600, e.g. 5"),
    ("webhook_max_attempts", 0, 100, "a whole number from 1 to 100"),
    ("webhook_retry_base_seconds", 0, 86400, "a whole number of seconds from 1 to 86400"),
    ("metric_materialise_after_ms", -1, 3_600_000, "a whole number of milliseconds from 0 to 3600000, e.g. 500"),
    ("metric_result_max_age", 0, 86400, "a whole number of seconds from 1 to 86400, e.g. 300"),
)

#: how each kind of setting is spelt, for a parse error
_FORMS = {int: "a whole number, e.g. 8", "int": "a whole number, e.g. 8",
          float: "a number, e.g. 2.5", "float": "a number, e.g. 2.5"}


def _valid_cron(expression: str) -> bool:
    try:
        from croniter import croniter
    except ImportError:   # pragma: no cover - installed with procrastinate
        return True
    return len(expression.split()) in (5, 6) and croniter.is_valid(expression)


def _coerce(value: str, kind: Any) -> Any:
    if kind in (bool, "bool"):
        return value.strip().lower() in ("1", "true", "yes", "on")
    if kind in (int, "int"):
        return int(value)
    if kind in (float, "float"):
        return float(value)
    return value


def load_settings(overrides: Mapping[str, Any] | None = None, environ: Mapping[str, str] | None = None, *,
                  strict: bool = True) -> Settings:
    """Build Settings from the environment, then apply ``overrides`` (keys like ``DATABASE_URL``).
    ``strict`` (the default) raises :class:`core.errors.ConfigError` with the first of
    :meth:`Settings.problems`; without it the settings come back as they are (``trellis config check``)."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    unparsed: list[str] = []
    for f in fields(Settings):
        if f.metadata.get("internal"):
            continue
        raw = environ.get(ENV_PREFIX + f.name.upper())
        if raw is not None and raw != "":
            try:
                values[f.name] = _coerce(raw.strip(), f.type)
            except ValueError:  # reported by problems(): one line naming the variable, not a traceback
                unparsed.append(f"{ENV_PREFIX}{f.name.upper()}: {raw!r} is not {_FORMS[f.type]}.")
    settings = Settings(**values, unparsed=tuple(unparsed))
    extra: dict[str, Any] = {}
    unclaimed: dict[str, Any] = {}
    core_names = {f.name for f in fields(Settings) if not f.metadata.get("internal")}
    for key, value in (overrides or {}).items():
        name = key.lower().removeprefix("trellis_")
        (extra if name in core_names else unclaimed)[name] = value
    settings = replace(settings, **extra, unclaimed=unclaimed, plugin_values={})
    problems = settings.problems()
    if strict and problems:
        from core.errors import ConfigError

        raise ConfigError(problems[0])
    if not settings.secret_key and strict:
        settings = replace(settings, secret_key=secrets.token_hex(32))
    return settings


def is_secret(name: str) -> bool:
    parts = name.lower().split("_")
    return parts[-1] in SECRET_ENDINGS or "secret" in parts


def masked(name: str, value: Any) -> str:
    """``value`` as ``trellis config check`` shows it: a secret as ``***`` (``(not set)`` when empty), a
    URL with its password replaced by ``***``."""
    if is_secret(name):
        return "***" if value not in (None, "") else "(not set)"
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value)
    if text == "":
        return "(empty)"
    parts = urlsplit(text) if "://" in text else None
    if parts is not None and parts.password:
        host = parts.netloc.rpartition("@")[2]
        text = parts._replace(netloc=f"{parts.username or ''}:***@{host}").geturl()
    return text


def describe(settings: Settings, environ: Mapping[str, str] | None = None) -> list[tuple[str, str, str]]:
    """``[(TRELLIS_NAME, shown value, "environment" | "default")]`` for every core and plugin setting,
    secrets masked."""
    environ = os.environ if environ is None else environ
    rows = []
    values = [(f.name, getattr(settings, f.name)) for f in fields(Settings) if not f.metadata.get("internal")]
    values += sorted(settings.plugin_values.items())
    for name, value in values:
        variable = ENV_PREFIX + name.upper()
        source = "environment" if environ.get(variable) not in (None, "") else "default"
        rows.append((variable, masked(name, value), source))
    return rows


def resolve_plugin_settings(settings: Settings, declared: list[PluginSetting],
                            environ: Mapping[str, str] | None = None) -> None:
    """Fill ``settings.plugin_values`` for the declared settings: a ``create_app`` override wins, then
    ``TRELLIS_<NAME>`` from the environment, then the default."""
    environ = os.environ if environ is None else environ
    for setting in declared:
        if setting.name in settings.unclaimed:
            value = settings.unclaimed[setting.name]
        else:
            raw = environ.get(ENV_PREFIX + setting.name.upper())
            value = setting.default if raw in (None, "") else raw
        if isinstance(value, str) and not isinstance(setting.default, str) and setting.default is not None:
            kind = type(setting.default)
            try:
                value = _coerce(value, bool) if kind is bool else kind(value)
            except (ValueError, ArithmeticError):  # Decimal("abc") raises InvalidOperation, an ArithmeticError
                from core.errors import PluginError

                raise PluginError(f"TRELLIS_{setting.name.upper()}={value!r} is not a valid {kind.__name__}.") from None
        settings.plugin_values[setting.name] = value


def test_database_url() -> str:
    """The database the test suite runs against: ``TRELLIS_TEST_DATABASE_URL`` or in-memory SQLite."""
    return os.environ.get("TRELLIS_TEST_DATABASE_URL", "")
