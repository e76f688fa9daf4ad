/*
 * margin — margin rules behind one interface.
 *
 * An account is a perpetual position of signed quantity q (long > 0, entry
 * E) and up to two option legs, with cash C. At oracle price P, time t and
 * regime volatility vol: equity = C + q (P - E) + sum of legs q_l V_l, the
 * legs valued by Black–Scholes with the smile. The account is eligible for
 * liquidation when equity < maintenance requirement.
 *
 * Models (const type tables):
 *  - static: maintenance = ratio x gross notional (|q| P + the underlying
 *    notional of short options; long options need nothing beyond their
 *    premium), initial likewise;
 *  - tiered: the tier rate of the gross notional minus the tier's
 *    maintenance amount (continuous across tiers);
 *  - dynamic: static with a ratio that follows an EWMA (half-life in time)
 *    or rolling-window estimate of the realized variance per unit of time of
 *    the published oracle price (per-path state, ms_margin_update);
 *  - portfolio: core = worst weighted loss of the whole account over a
 *    grid of price x volatility shocks with a floor per short option
 *    (added, or a minimum on the SPAN grid), at least the minimum delta
 *    requirement; initial = im_factor x core, maintenance = mm_factor x
 *    core, each + contingencies (venue presets: docs/engine.md).
 *
 * One instance per thread (dynamic margin has per-path state). Accounts
 * without option legs take closed forms (ms_margin_perp_*); their index keys
 * are described with ms_margin_key.
 */
#ifndef MARGINSIM_MARGIN_H
#define MARGINSIM_MARGIN_H

#include <stdint.h>

#include "marginsim/error.h"
#include "models/pricing.h"
#include "config/scenario.h"

typedef struct ms_margin ms_margin;

/** How index keys of perp-only accounts relate to thresholds. */
typedef enum {
  /* key = per-unit collateral (C/|q| + shift): exact, and unchanged by a
   * uniform change of the maintenance ratio. */
  MS_KEY_COLLATERAL,
  /* key = threshold price (negated for longs) shifted by kappa x the
   * per-unit socialized loss: exact until a shift, a bound after it. */
  MS_KEY_THRESHOLD
} ms_key_mode;

typedef struct ms_position ms_position;
typedef struct ms_view ms_view;
struct ms_band_ctx;

/*
 * A margin model, in the manner of gsl_rng_type: a const table chosen by
 * name (margin.model), separate from the instance (ms_margin), which holds
 * the fields every model uses (the perp-only closed forms, margin_int.h)
 * and the model's own state (m->state, allocated by init, freed by free). Hooks are called per account with option
 * legs, per path or per scheduled event, never per tick: the perp-only
 * closed forms the tick scan uses read the data fields and stay direct
 * calls. A NULL hook means "nothing to do" (docs/engine.md, "Adding a
 * margin model").
 */
typedef struct ms_margin_type {
  const char *name;       /* margin.model; written to the result file */
  ms_key_mode key_mode;   /* index keys of perp-only accounts */
  int tiered;             /* perp-only closed forms: the tier schedule (else one ratio per side) */
  int scan;               /* requirement of option accounts from the scenario grid (the band bounds its slope) */
  int ratio_moves;        /* the maintenance ratio moves within a path (the band keeps room for it) */
  /* Allocate the model's own state into m->state and publish its perp-only
   * closed forms (margin_int.h); called once after the shared fields are set. */
  ms_status (*init)(ms_margin *m, const ms_config *cfg, ms_error *err);
  /* Free what init allocated (also after a failed init). */
  void (*free)(ms_margin *m);
  /* Reset per-path state at the start of a path. */
  void (*path_start)(ms_margin *m, double p0);
  /* The time between scheduled re-estimates (ms) of @p cfg; NULL: none. */
  int64_t (*update_every)(const ms_config *cfg);
  const char *update_key;  /* the scenario key behind update_every (messages of the work bounds) */
  /* A scheduled re-estimate (ms_margin_update): 1 if the ratio rose. */
  int (*update)(ms_margin *m, double P, int64_t t_obs);
  /* Maintenance and initial requirements (USD) of an account with option legs. */
  double (*pos_mm)(const ms_margin *m, const ms_position *p, const ms_view *v);
  double (*pos_im)(const ms_margin *m, const ms_position *p, const ms_view *v);
  /* The current volatility estimate (annualised); NULL: 0. */
  double (*sigma)(const ms_margin *m);
  /* Bands of option accounts under a scan model (see margin_int.h):
   * band_reserve: surplus (USD) set aside for a part of the requirement the
   * other terms do not bound (0: none); band_moves: the range of relative
   * price moves its valuations use (xmin <= 0 <= xmax); band_terms: add how
   * fast its requirement can rise. NULL: the requirement is the one ratio
   * of gross notional (ms_margin_ratio, or the top tier). */
  double (*band_reserve)(const ms_margin *m, const ms_position *p, const ms_view *v);
  void (*band_moves)(const ms_margin *m, int cls, double *xmin, double *xmax);
  void (*band_terms)(const ms_margin *m, const ms_position *p, const ms_view *v, struct ms_band_ctx *c);
} ms_margin_type;

extern const ms_margin_type ms_margin_static;
extern const ms_margin_type ms_margin_tiered;
extern const ms_margin_type ms_margin_dynamic;
extern const ms_margin_type ms_margin_portfolio;

/* ms_margin_types[] (NULL-terminated) is declared in config/scenario.h. */

/** The model called @p name, or NULL. */
const ms_margin_type *ms_margin_type_find(const char *name);

/** An account's position. */
struct ms_position {
  double C;               /* USD cash (after socialized losses) */
  double q;               /* perp units, signed; 0: none */
  int nlegs;              /* live option legs */
  ms_leg legs[MS_MAX_LEGS];
};

/** Where and when it is valued. */
struct ms_view {
  double P;               /* USD, the underlying (oracle price) */
  int64_t t;              /* ms */
  double vol;             /* the current regime's volatility, annualised */
};

/** A region in which an account is surely not eligible. */
typedef struct ms_band {
  double p_lo, p_hi;      /* p_lo < P < p_hi ... */
  int64_t t_until;        /* ... and t < t_until ... */
  double ratio_max;       /* ... and the maintenance ratio < ratio_max (dynamic margin) ... */
  double shift_room;      /* ... and the per-unit socialized loss of its perp's side rises by less */
} ms_band;

/** The model named by margin.model. */
ms_status ms_margin_new(ms_margin **out, const ms_config *cfg, ms_error *err);

/** Free; NULL is a no-op. */
void ms_margin_free(ms_margin *m);

const ms_margin_type *ms_margin_get_type(const ms_margin *m);

/* ---- perp-only accounts ---- */

/** Maintenance requirement (USD) of q units at price P. */
double ms_margin_perp_mm(const ms_margin *m, double q, double P);

/** Initial requirement (USD) of q units at price P. */
double ms_margin_perp_im(const ms_margin *m, double q, double P);

/** Maintenance amount (USD) deducted in the tier of @p notional (0 unless tiered). */
double ms_margin_mm_amount(const ms_margin *m, double notional);

/**
 * Oracle price at which the position becomes eligible: a long is eligible
 * when P < threshold (0 if never), a short when P > threshold.
 */
double ms_margin_threshold(const ms_margin *m, double C, double q, double E);

/** Equity at @p P. */
static inline double ms_margin_equity(double C, double q, double E, double P) { return C + q * (P - E); }

/** 1 if the perp-only position is eligible at oracle price @p P. */
int ms_margin_eligible(const ms_margin *m, double C, double q, double E, double P);

/** Index key of a perp-only position; @p shift is the per-unit socialized loss of its side so far. */
double ms_margin_key(const ms_margin *m, double C, double q, double E, double shift);

/** Perp-only accounts of the side (long if @p is_long) with key < boundary may be eligible at @p P. */
double ms_margin_boundary(const ms_margin *m, int is_long, double P, double E, double shift);

/* ---- any account ---- */

/** Equity (USD). */
double ms_margin_pos_equity(const ms_margin *m, const ms_position *p, double E, const ms_view *v);

/** Maintenance and initial requirements (USD). */
double ms_margin_pos_mm(const ms_margin *m, const ms_position *p, double E, const ms_view *v);
double ms_margin_pos_im(const ms_margin *m, const ms_position *p, double E, const ms_view *v);

/** equity - maintenance (USD): eligible when negative. */
double ms_margin_pos_surplus(const ms_margin *m, const ms_position *p, double E, const ms_view *v);

/**
 * A band around @p v in which the surplus of @p p stays positive, from
 * bounds on its derivatives (docs/engine.md, "Bands: revaluing only where a threshold can be crossed"). An
 * account not safe at @p v gets an empty band. @p surplus is its surplus at
 * @p v when the caller has it (NAN: compute it).
 */
void ms_margin_band(const ms_margin *m, const ms_position *p, double E, const ms_view *v, double surplus,
                    ms_band *b);

/** Value per unit of leg @p l at underlying @p S, time @p t, regime vol @p vol (smile applied). */
double ms_margin_leg_value(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol);

/** Its Greeks. */
void ms_margin_leg_greeks(const ms_margin *m, const ms_leg *l, double S, int64_t t, double vol, ms_greeks *g);

/** Black–Scholes evaluations made by this instance so far. */
int64_t ms_margin_bs_count(const ms_margin *m);

/* ---- dynamic margin ---- */

/** Start a path: sigma_hat and the ratio return to their initial values. */
void ms_margin_path_start(ms_margin *m, double p0);

/**
 * A scheduled re-estimate seeing the current published price @p P, observed
 * at @p t_obs (ms; never earlier than the last one passed): a new
 * observation adds its log return over the time since the previous one; the
 * same observation again adds nothing. Returns 1 if the ratio rose.
 */
int ms_margin_update(ms_margin *m, double P, int64_t t_obs);

/** The time between scheduled re-estimates of margin.model (ms; 0: none, the ratio holds). */
int64_t ms_margin_update_every(const ms_config *cfg);

/** The scenario key behind ms_margin_update_every (for messages). */
const char *ms_margin_update_key(const ms_config *cfg);

/** Current maintenance ratio (static, dynamic; portfolio: longs' perp ratio; tiered: first tier). */
double ms_margin_ratio(const ms_margin *m);

/** Current sigma_hat (annualised; dynamic margin). */
double ms_margin_sigma(const ms_margin *m);

#endif
