/*
 * scenario — a scenario file (YAML) turned into a typed, validated
 * configuration. Every key has a default (docs/scenario.md, generated from
 * the same tables by `marginsim schema`); unknown keys, wrong types and
 * out-of-range values are rejected with "file:line:col: key.path: message".
 *
 * Units in the struct: time in integer milliseconds, rates in events per
 * day, volatilities and drifts annualised (a year is market.days_per_year
 * days), prices and money in USD.
 */
#ifndef MARGINSIM_SCENARIO_H
#define MARGINSIM_SCENARIO_H

#include <stdint.h>

#include "core/dist.h"
#include "marginsim/error.h"
#include "marginsim/marginsim.h"

#define MS_MAX_REGIMES 16
/* Most Monte Carlo paths of one run (key paths, -n). */
#define MS_MAX_PATHS 1000000000ULL
/* Largest scenario file read (bytes): the shipped ones are a few KB. */
#define MS_SCENARIO_MAX_BYTES (1 << 20)
#define MS_NAME_MAX 32

/*
 * The model type tables: each key that picks a model (market.model,
 * market.impact.model, margin.model, oracle.kind, keepers.model,
 * liquidation.shortfall) holds a pointer to one entry of its table, chosen
 * by name. The first five are defined on the models floor (sim/models/),
 * the shortfall policies on the engine floor (sim/engine/shortfall.c: their
 * hooks apply a loss to the engine's accounts). The loader reads the names
 * without knowing the models: every type struct begins with its name
 * (const char *). The headers that define the types include this one, so
 * the compiler checks these declarations against the definitions.
 */
struct ms_price_model_type;
struct ms_impact_type;
struct ms_margin_type;
struct ms_oracle_type;
struct ms_keeper_type;
struct ms_shortfall_type;
extern const struct ms_price_model_type *const ms_price_models[];
extern const struct ms_impact_type *const ms_impact_types[];
extern const struct ms_margin_type *const ms_margin_types[];
extern const struct ms_oracle_type *const ms_oracle_types[];
extern const struct ms_keeper_type *const ms_keeper_types[];
extern const struct ms_shortfall_type *const ms_shortfall_types[];

/** The name of a model type (any of the tables above): its first member. */
static inline const char *ms_model_name(const void *type) { return *(const char *const *)type; }

/** The exogenous price may move at most this factor away from its initial
 *  price: past it, prices, notionals and their squares in the statistics
 *  overflow (a jump rate of 1/s with a mean of 0.48 took it to inf). The
 *  engine stops a path there; a replay's or bootstrap's candles are checked
 *  against it when the scenario loads. */
#define MS_MAX_PRICE_MOVE 1e50

typedef struct ms_jump_cfg {
  double rate;           /* jump arrivals per day */
  double mean;           /* mean of the log jump size */
  double sd;             /* standard deviation of the log jump size */
} ms_jump_cfg;

/* market.assets: several assets in one correlated world (market.trade names
 * the one the book trades). */
#define MS_MAX_ASSETS 8

typedef struct ms_asset_regime_cfg {
  double vol;            /* annualised volatility of the asset's log returns in the regime */
  double drift;          /* annualised drift mu of dS/S */
} ms_asset_regime_cfg;

typedef struct ms_matrix_cfg {
  int rows, cols;
  double v[MS_MAX_REGIMES][MS_MAX_REGIMES];
} ms_matrix_cfg;

typedef struct ms_regime_cfg {
  char name[MS_NAME_MAX];
  double vol;            /* annualised volatility of log returns (of the traded asset: with market.assets, resolved
                            from assets[trade]) */
  double drift;          /* annualised drift mu of dS/S (log drift is mu - vol^2/2) */
  int64_t mean_duration; /* ms, mean holding time of the regime */
  ms_jump_cfg jumps;
  int nassets;           /* with market.assets: one entry per asset */
  ms_asset_regime_cfg assets[MS_MAX_ASSETS];
  ms_matrix_cfg correlation; /* of the assets' log returns in the regime (rows 0: identity) */
} ms_regime_cfg;


/* market.transition: row i, the weights of the regime that follows regime i (diagonal 0). */
typedef ms_matrix_cfg ms_transition_cfg;

typedef struct ms_impact_cfg {
  const struct ms_impact_type *model; /* market.impact.model: the impact law */
  double depth;          /* USD of signed flow that moves the price 1% */
  int64_t half_life;     /* ms; 0 = the flow never decays */
  int options;           /* option fills move the underlying (delta-equivalent) */
} ms_impact_cfg;

typedef struct ms_smile_cfg {
  double skew;           /* IV = regime vol x max(floor, 1 + skew ln(K/S)) */
  double floor;
} ms_smile_cfg;

/* market.shocks[]: a scripted move overlaid on the exogenous log price. */
#define MS_MAX_SHOCKS 16
typedef enum { MS_SHOCK_LINEAR = 0, MS_SHOCK_EXPONENTIAL } ms_shock_shape;

typedef struct ms_recover_cfg {
  double fraction;       /* share of the move taken back (0.5: half the fall regained) */
  int64_t over;          /* ms the recovery takes */
} ms_recover_cfg;

typedef struct ms_shock_cfg {
  int64_t at;            /* ms: when the move begins */
  double move;           /* relative price move at its end (-0.2: a 20% fall) */
  int64_t over;          /* ms the move takes; 0: at once */
  int shape;             /* ms_shock_shape */
  ms_recover_cfg recover;
} ms_shock_cfg;

/* market.replay: the exogenous path follows a window of historical candles
 * (market.model replay, sim/models/price_replay.c). */
struct ms_series_share;
typedef struct ms_replay_cfg {
  char file[1024];       /* CSV of candles (sim/core/series.h); relative paths from the scenario's directory */
  char from[48], to[48]; /* ISO 8601 times: the window [from, to) of candle open times */
  int rescale;           /* scale the window's prices so its first open is initial_price */
  double vol_scale;      /* scales the intra-candle noise of the bridge */
  double speed;          /* simulated time runs this many times faster than the data's */
} ms_replay_cfg;

/* market.bootstrap: a stationary block bootstrap of a window's candles
 * (market.model bootstrap, sim/models/price_replay.c). */
typedef struct ms_bootstrap_cfg {
  char file[1024], from[48], to[48];
  double vol_scale, speed;
  double block;          /* mean block length, in candles */
  double target_vol;     /* annualised; 0: the window's own */
} ms_bootstrap_cfg;

/* What replay and bootstrap read, resolved from their section (not keys). */
typedef struct ms_history_res {
  struct ms_series_share *data; /* the file's candles, shared by copies of the config (ms_config_free) */
  int64_t first, count;  /* the window's candles: data's [first, first + count) */
  int64_t candle;        /* ms of simulated time per candle: resolution / speed */
  double shift;          /* replay: added to the log of every price (rescale), else 0 */
  double factor;         /* bootstrap: scales every candle's log moves (target_vol), else 1 */
  double vol;            /* the realised volatility of the path, annualised in simulated time */
  double vol_scale;      /* the section's vol_scale */
} ms_history_res;

/* market.garch: GARCH(1,1) log returns at a coarse resolution, bridged to
 * the tick (market.model garch, sim/models/price_garch.c). */
typedef enum { MS_INNOV_NORMAL = 0, MS_INNOV_T } ms_innovations;

/* market.garch.regimes[i]: the parameters while market.regimes[i] holds. */
typedef struct ms_garch_params {
  double omega, alpha, beta; /* sigma2' = omega + alpha e^2 + beta sigma2, per period */
  double drift;          /* annualised mu of dS/S */
} ms_garch_params;

typedef struct ms_garch_cfg {
  int64_t resolution;    /* ms of simulated time per GARCH period */
  double omega, alpha, beta; /* sigma2' = omega + alpha e^2 + beta sigma2, per period */
  double drift;          /* annualised mu of dS/S */
  int innovations;       /* ms_innovations */
  double nu;             /* Student-t degrees of freedom (> 2) */
  int nregimes;          /* 0: one set of parameters; else one per market.regimes entry */
  ms_garch_params regimes[MS_MAX_REGIMES];
  /* resolved, not keys */
  double uncond_vol;     /* sqrt(omega / (1 - alpha - beta)), annualised (per regime below) */
  double regime_vol[MS_MAX_REGIMES];
} ms_garch_cfg;

#define MS_MAX_TIERS 32

typedef struct ms_tier_cfg {
  double floor;          /* USD notional where the tier starts */
  double maintenance;    /* maintenance margin rate */
  double initial;        /* initial margin rate */
} ms_tier_cfg;

typedef enum { MS_VOLEST_EWMA = 0, MS_VOLEST_WINDOW } ms_vol_estimator;

typedef struct ms_dynamic_cfg {
  double k;              /* ratio = clamp(k sigma_hat sqrt(horizon), floor, cap) */
  int estimator;         /* ms_vol_estimator */
  int64_t half_life;     /* ms: ewma weight of a sample halves per this much elapsed time */
  int64_t window;        /* ms: rolling window (whole update_every intervals, rounded up) */
  int64_t update_every;  /* ms */
  int64_t liquidation_horizon; /* ms */
  double floor, cap;     /* bounds of the maintenance ratio */
  double max_step;       /* largest rise of the ratio per update */
  double initial_multiplier; /* initial = maintenance x this */
  double initial_vol;    /* sigma_hat at time 0 (annualised); 0: market's long-run vol */
} ms_dynamic_cfg;

typedef enum { MS_GRID_DERIBIT = 0, MS_GRID_SPAN } ms_grid_kind;
/* Venue parameter sets of portfolio margin (docs/engine.md, "Presets"). */
typedef enum { MS_PM_DERIBIT = 0, MS_PM_PARADEX, MS_PM_DERIVE, MS_PM_SPAN } ms_pm_preset;

#define MS_MAX_EXTENDED 16
#define MS_MAX_PRICE_STEPS 101

typedef struct ms_extended_cfg {
  double shock;          /* relative price move */
  double weight;         /* fraction of the loss counted */
} ms_extended_cfg;

typedef struct ms_span_cfg {
  double scan_range;     /* price scan range, relative */
  double vol_range;      /* volatility scan range, relative */
  double extreme_multiple; /* extreme moves: +/- this x scan range ... */
  double extreme_weight;   /* ... counted at this fraction */
} ms_span_cfg;

/*
 * core = max(scan risk [+ or max] short option floor, minimum delta
 * requirement); initial = im_factor x core + initial contingencies + fee
 * provision; maintenance = mm_factor x core + maintenance contingencies + fee
 * provision. The short option floor is added to the scan risk on the
 * "deribit" grid and is a lower bound of it (SPAN's short option minimum) on
 * the "span" grid.
 */
typedef struct ms_portfolio_cfg {
  int preset;            /* ms_pm_preset: the values of every key not written */
  int grid;              /* ms_grid_kind */
  double price_range;    /* core price shocks from -range to +range ... */
  int64_t price_steps;   /* ... in this many even steps */
  int vol_same;          /* core moves also at unchanged volatility */
  int edge_vol_up_only;  /* the moves of +/-range at volatility up only */
  double vol_up, vol_down;      /* relative vol shocks before DTE scaling */
  double min_vol_up;            /* annualised: a vol-up scenario's volatility is at least this */
  double vega_power_short, vega_power_long; /* (30 days / DTE)^power, DTE below / above the switch */
  int64_t vega_power_switch;    /* ms */
  int64_t dte_floor;            /* ms */
  int nextended;
  ms_extended_cfg extended[MS_MAX_EXTENDED];
  double short_option_floor;    /* per short option, fraction of its underlying notional */
  double min_delta_net;         /* minimum delta requirement: this x |net delta| x P ... */
  double min_delta_hedged;      /* ... + this x hedged delta x P */
  double im_factor;             /* initial = this x core + ... */
  double mm_factor;             /* maintenance = this x core + ... */
  double perp_contingency_im, perp_contingency_mm;     /* fraction of the perp's notional */
  double option_contingency_im, option_contingency_mm; /* fraction of naked shorts' underlying notional */
  double fee_provision;         /* fraction of the underlying notional of every position (IM and MM) */
  ms_span_cfg span;
} ms_portfolio_cfg;

typedef struct ms_margin_cfg {
  const struct ms_margin_type *model; /* margin.model */
  double initial;        /* static: initial margin ratio of notional */
  double maintenance;    /* static: maintenance margin ratio of notional */
  int ntiers;
  ms_tier_cfg tiers[MS_MAX_TIERS];
  ms_dynamic_cfg dynamic;
  ms_portfolio_cfg portfolio;
} ms_margin_cfg;

typedef struct ms_oracle_cfg {
  const struct ms_oracle_type *kind; /* oracle.kind */
  double deviation;      /* push: relative move that starts a round */
  int64_t heartbeat;     /* push: ms since the last publish that starts a round */
  ms_dist latency;       /* ms from a round's observation to its publish */
  int64_t interval;      /* pull: ms between observations */
  int64_t twap;          /* ms window of the reported time-weighted mean; 0 = spot */
} ms_oracle_cfg;

typedef struct ms_asset_cfg {
  char name[MS_NAME_MAX];
  double initial_price;  /* USD */
  double jump_loading;   /* the asset's log jump = loading x the regime's common jump */
  char file[1024];       /* replay and bootstrap: its candles (the window is market.replay's or .bootstrap's) */
  ms_impact_cfg impact;  /* its market's impact, when written (else market.impact) */
  ms_oracle_cfg oracle;  /* its oracle feed, when written (else oracle) */
  ms_margin_cfg margin;  /* its market's margin rules, when written (else margin): a book of several markets */
  ms_history_res hist;   /* resolved, not a key: with book.markets under replay or bootstrap, its own window
                            of its own candles (data NULL otherwise) */
} ms_asset_cfg;

typedef struct ms_market_cfg {
  double initial_price;  /* USD (of the traded asset: with market.assets, resolved from assets[trade]) */
  int nassets;           /* market.assets: 0 for one asset (the keys above) */
  ms_asset_cfg assets[MS_MAX_ASSETS];
  char trade[MS_NAME_MAX]; /* the asset the book trades ("": the first) */
  const struct ms_price_model_type *model; /* market.model: the exogenous price model */
  int nregimes;
  ms_regime_cfg regimes[MS_MAX_REGIMES];
  ms_transition_cfg transition; /* rows == 0: switch to the other regime(s) uniformly */
  char start_regime[MS_NAME_MAX]; /* a regime name or "stationary" */
  int start_index;       /* resolved: regime index, or -1 for stationary */
  double days_per_year;  /* for annualised vol and drift */
  ms_impact_cfg impact;
  ms_smile_cfg smile;
  int nshocks;
  ms_shock_cfg shocks[MS_MAX_SHOCKS];
  ms_replay_cfg replay;
  ms_bootstrap_cfg bootstrap;
  ms_garch_cfg garch;
  ms_history_res hist;   /* resolved for replay and bootstrap */
  /* resolved, not keys */
  int trade_index;       /* the traded asset, 0..nassets-1 (0 without market.assets) */
  double jump_loading;   /* its jump loading (1 without market.assets) */
  double stationary[MS_MAX_REGIMES]; /* long-run fraction of time in each regime */
  double reference_vol;  /* sqrt(sum stationary_i vol_i^2): the long-run volatility */
  double entry_vol;      /* options are priced at entry at this vol: start_regime's, or the long-run one
                            when the start is stationary (the start regime then differs between paths) */
} ms_market_cfg;

typedef enum { MS_RESAMPLE_PER_RUN = 0, MS_RESAMPLE_PER_PATH } ms_resample;

typedef enum {
  MS_STRAT_NAKED_SHORT_CALL = 0,
  MS_STRAT_NAKED_SHORT_PUT,
  MS_STRAT_SHORT_STRANGLE,
  MS_STRAT_COVERED_CALL,
  MS_STRAT_PROTECTIVE_PUT,
  MS_STRAT_LONG_STRADDLE,
  MS_STRAT_COUNT
} ms_strategy_kind;

typedef enum { MS_STRIKE_MONEYNESS = 0, MS_STRIKE_DELTA } ms_strike_mode;

typedef struct ms_strike_cfg {
  int by;                /* ms_strike_mode */
  double value;          /* moneyness: distance from the entry price (0.1 = 10% OTM); delta: |delta| */
} ms_strike_cfg;

#define MS_MAX_STRATEGIES 12

typedef struct ms_strategy_cfg {
  int kind;              /* ms_strategy_kind */
  double weight;
  ms_strike_cfg strike;
  ms_dist expiry;        /* ms */
  ms_dist size;          /* underlying notional of each leg / collateral */
} ms_strategy_cfg;

typedef struct ms_options_cfg {
  double fraction;       /* share of accounts holding an option strategy */
  int nstrategies;
  ms_strategy_cfg strategies[MS_MAX_STRATEGIES];
} ms_options_cfg;

/* book.markets: accounts holding positions in several of market.assets
 * (sim/engine/multi.c, docs/engine.md "Several markets"). */
typedef enum { MS_MARGIN_CROSS = 0, MS_MARGIN_ISOLATED, MS_MARGIN_MIXED } ms_margin_mode;
typedef enum { MS_DIR_RANDOM = 0, MS_DIR_SAME, MS_DIR_HEDGED } ms_direction_mode;

typedef struct ms_markets_cfg {
  int enabled;           /* accounts hold positions in several markets */
  ms_dist count;         /* markets an account trades (rounded, 1 .. market.assets) */
  int nweights;
  double weights[MS_MAX_ASSETS]; /* relative weight of each asset, in market.assets' order (none: equal) */
  int directions;        /* ms_direction_mode */
  double cross_share;    /* book.margin_mode mixed: the probability that an account is cross-margined */
  double cross_offset;   /* a cross account's portfolio maintenance less this x min(long-, short-delta markets') */
} ms_markets_cfg;

typedef struct ms_book_cfg {
  int64_t accounts;
  ms_dist collateral;    /* USD */
  ms_dist leverage;      /* entry notional / collateral */
  double long_fraction;  /* probability that an account is long */
  int resample;          /* ms_resample */
  ms_options_cfg options;
  int margin_mode;       /* ms_margin_mode: how an account's positions share its collateral */
  ms_markets_cfg markets;
} ms_book_cfg;



#define MS_MAX_OUTAGES 8

typedef struct ms_window_cfg {
  int64_t start;         /* ms */
  int64_t duration;      /* ms */
} ms_window_cfg;

typedef struct ms_capacity_cfg {
  int64_t per_block;     /* liquidations per block; 0 = unlimited */
  int64_t block_time;    /* ms */
} ms_capacity_cfg;

typedef struct ms_congestion_cfg {
  double per_pending;    /* delay factor = 1 + per_pending * pending, ... */
  double max_factor;     /* ... capped here */
} ms_congestion_cfg;

typedef struct ms_keeper_cfg {
  const struct ms_keeper_type *model; /* keepers.model: the keeper policy */
  ms_dist delay;         /* ms from discovery to action */
  ms_capacity_cfg capacity;
  ms_congestion_cfg congestion;
  double gas_cost;       /* USD; a liquidation paying the keeper less is skipped */
  int noutages;
  ms_window_cfg outages[MS_MAX_OUTAGES];
} ms_keeper_cfg;

typedef enum { MS_LIQ_FULL = 0, MS_LIQ_PARTIAL } ms_liq_mode;

typedef struct ms_liquidation_cfg {
  int mode;              /* ms_liq_mode */
  double min_close;      /* partial: least fraction of the position closed */
  double penalty;        /* fraction of closed notional */
  double keeper_share;   /* fraction of the penalty paid to the keeper */
  double insurance_fund; /* USD at the start of each path */
  const struct ms_shortfall_type *shortfall; /* liquidation.shortfall: the policy (sim/engine/shortfall.h) */
  double option_spread;  /* options close at model value x (1 +/- this) against the account */
} ms_liquidation_cfg;

/* funding: periodic payments between longs and shorts (sim/models/funding.c,
 * docs/engine.md "Funding"). */
typedef enum { MS_FUND_BINANCE = 0, MS_FUND_HYPERLIQUID, MS_FUND_DYDX } ms_funding_preset;
typedef enum { MS_FUND_CLAMPED = 0, MS_FUND_SUM } ms_funding_formula;
typedef enum { MS_FUND_AT_MARK = 0, MS_FUND_AT_ORACLE, MS_FUND_AT_INDEX } ms_funding_price;
typedef enum { MS_FUND_PRO_RATA = 0, MS_FUND_RATE } ms_funding_receivers;

typedef struct ms_premium_regime_cfg {
  double mean;           /* the exogenous premium's mean while the regime holds */
} ms_premium_regime_cfg;

typedef struct ms_premium_cfg {
  double mean;           /* exogenous premium: long-run mean, a fraction of the index */
  double sd;             /* its stationary standard deviation (0: constant at mean) */
  int64_t half_life;     /* ms: its mean reversion */
  int nregimes;          /* 0: mean throughout; else one per market.regimes entry */
  ms_premium_regime_cfg regimes[MS_MAX_REGIMES];
} ms_premium_cfg;

/* Bounds of funding's keys: premium samples in one interval, and payments'
 * length in periods of the quoted rate (more is a slip of units). */
#define MS_FUNDING_MAX_SAMPLES 100000000LL
#define MS_FUNDING_MAX_PERIODS 24

typedef struct ms_funding_cfg {
  int enabled;           /* 0: no funding (and no funding columns) */
  int preset;            /* ms_funding_preset: the value of every key not written */
  int64_t interval;      /* ms between payments */
  int64_t rate_period;   /* ms the formula's rate is quoted for: a payment is rate x interval / rate_period */
  int64_t sample_every;  /* ms between premium samples inside an interval */
  double interest;       /* per rate_period */
  int formula;           /* ms_funding_formula */
  double dampener;       /* clamped: rate = P + clamp(interest - P, -dampener, dampener) */
  double cap;            /* largest abs(rate) of one payment (per interval); 0: none */
  int price;             /* ms_funding_price: the notional is valued at this price */
  int receivers;         /* ms_funding_receivers: how the receiving side is paid */
  ms_premium_cfg premium;
} ms_funding_cfg;

typedef struct ms_stats_cfg {
  int64_t cascade_gap;   /* ms: longest gap inside one cascade */
  int counterfactual;    /* run each path's no-feedback twin (market.impact.model none) */
  int contagion;         /* book.markets: run each path's twin per market with the other assets frozen */
} ms_stats_cfg;

typedef struct ms_timeseries_cfg {
  int64_t paths;         /* record the first this many paths */
  int64_t every;         /* ms between samples */
} ms_timeseries_cfg;

typedef struct ms_fan_cfg {
  int64_t paths;         /* sample the first this many paths (0: none) */
  int64_t points;        /* at this many evenly spaced times, 0 and horizon included */
} ms_fan_cfg;

typedef struct ms_output_cfg {
  ms_timeseries_cfg timeseries;
  ms_fan_cfg fan;
  int64_t compression;   /* gzip level of chunked datasets, 0 = none (/book: 1-5 zplanes, 6-9 libdeflate) */
  int64_t liquidations_compression; /* gzip level of /liquidations, 0 = none */
  int64_t chunk_paths;   /* paths per write batch */
  int liquidations;      /* write /liquidations */
} ms_output_cfg;

#define MS_MAX_ASSERTIONS 64
#define MS_STAT_NAME_MAX 96

typedef enum { MS_OP_LT = 0, MS_OP_LE, MS_OP_GT, MS_OP_GE, MS_OP_EQ, MS_OP_NE } ms_assert_op;

/** One line of the scenario's assertions: "STATISTIC OP VALUE". */
typedef struct ms_assertion_cfg {
  char text[256];        /* as written, e.g. "insolvency.probability < 0.01" */
  double confidence;     /* 0: the point estimate decides; else the whole interval at this level must */
  /* resolved from text, not keys */
  char statistic[MS_STAT_NAME_MAX]; /* a /stats entry: "bad_debt.q99", "insolvency.probability" */
  int op;                /* ms_assert_op */
  double threshold;      /* in the statistic's unit (a duration is taken in seconds) */
  char where[256];       /* "file:line:col" of the item, for later messages */
} ms_assertion_cfg;

#define MS_MAX_GRID 8
#define MS_GRID_TEXT 512
#define MS_MAX_SHOW 16

/** What `marginsim sweep` runs when no --grid is given. */
typedef struct ms_sweep_cfg {
  int ngrid;
  char grid[MS_MAX_GRID][MS_GRID_TEXT];   /* "KEY=V1,V2,..." or "KEY=FROM:TO:STEP" */
  char baseline[MS_GRID_TEXT];            /* "KEY=V,..."; "" = the first cell */
  int nshow;
  char show[MS_MAX_SHOW][MS_STAT_NAME_MAX]; /* headline statistics of the summary table */
  /* Where the file wrote them (line, col; 0: not in the file, e.g. from --set): grid[i], then baseline, then
   * show, for the errors `sweep` and `validate` find in them. */
  int at[MS_MAX_GRID + 2][2];
} ms_sweep_cfg;

#define MS_MAX_WARNINGS MS_MAX_OUTAGES
#define MS_WARNING_MAX 768

typedef struct ms_config {
  char name[64];
  uint64_t seed;
  int64_t paths;
  int64_t horizon;       /* ms */
  int64_t step;          /* ms, the exogenous tick */
  ms_market_cfg market;
  ms_book_cfg book;
  ms_margin_cfg margin;
  ms_oracle_cfg oracle;
  ms_keeper_cfg keepers;
  ms_liquidation_cfg liquidation;
  ms_funding_cfg funding;
  ms_stats_cfg stats;
  ms_output_cfg output;
  int nassertions;
  ms_assertion_cfg assertions[MS_MAX_ASSERTIONS];
  ms_sweep_cfg sweep;

  /* Provenance, not scenario keys. */
  char *source_text;     /* the scenario file as read (owned) */
  char source_path[1024];
  /* "file:line:col: book.leverage" (or the nearest written key): where the
   * book's errors found after loading (accounts below initial margin) point. */
  char book_where[1200];

  /* Valid but suspect settings (a timed key after the horizon), one
   * "file:line:col: key: message" each, for the CLI to print on stderr. */
  int nwarnings;
  char warnings[MS_MAX_WARNINGS][MS_WARNING_MAX];
} ms_config;

/* Loading, freeing and dumping (ms_config_load, ms_config_load_string,
 * ms_config_free, ms_config_to_yaml, ms_config_name/paths/seed) are declared
 * in the public marginsim/marginsim.h. */

/** Markdown tables of every key with type, default, range and meaning; caller frees. */
char *ms_config_schema_markdown(void);

/** The text of an assertion operator ("<", "<=", ...). */
const char *ms_assert_op_text(int op);

/** The candles of market.replay or market.bootstrap (NULL unless the model is one of them). */
const struct ms_series *ms_config_series(const ms_config *cfg);

/** The candles asset @p j of market.assets follows (book.markets under replay or bootstrap), else NULL. */
const struct ms_series *ms_config_asset_series(const ms_config *cfg, int j);

/**
 * Take a share of what @p copy (a struct copy of a loaded configuration,
 * source_text aside) points to, so that ms_config_free(copy) may release it
 * independently of the original.
 */
void ms_config_share(ms_config *copy);

/**
 * The scenario as asset @p j of market.assets sees it, into @p out: a struct
 * copy of @p cfg (pointers shared, never to be freed through @p out) with
 * asset j's initial price, vols, drifts, jump loading, impact and oracle in
 * the single-asset keys and market.trade_index j, exactly as a scenario
 * trading j resolves. For the engine of book.markets, one per market.
 */
void ms_config_for_asset(const ms_config *cfg, int j, ms_config *out);

/** Index of the regime named @p name, or -1. */
int ms_config_regime_index(const ms_config *cfg, const char *name);

#endif
