"""VIQ radiometric calibration processors (DESIGN §7–8).

``dark-signal`` → GIP_DARKCU, ``relative-sensitivity`` → GIP_RELSEN + GIP_OUTORD, ``noise-model`` →
GIP_NOISMO + SNR, ``absolute-calibration`` → GIP_PHGAIN + gain trend, ``radiometric-correction`` → corrected
radiance and the residual striping that a candidate's promotion needs. Numerics live in pure modules
(:mod:`.stats`, :mod:`.dark`, :mod:`.relsen`, :mod:`.noise`, :mod:`.absolute`, :mod:`.spectral`,
:mod:`.correction`); processor glue in :mod:`.processors`.
"""

__version__ = "1.0.0"
PROCESSOR_VERSION = "01.00"
