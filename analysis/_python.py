"""Shared helpers of the analysis scripts.

Result files are read through the marginsim package (analysis/marginsim:
`marginsim.open`); the formatting helpers imported below are re-exported from
marginsim/_fmt.py for scripts that imported them from here."""
from marginsim._fmt import (DEFAULT_SHOW, cfg_get, fmt, fmt_interval, money, money_formatter,  # noqa: F401
                            seconds, stat_unit, time_scale)
