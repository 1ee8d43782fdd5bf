"""Stock feature names: the daily OHLCV columns, the windows made of them, and the target.

One tf.Example per window: for each daily column, its `window_days` values in date
order (a float list under the column's name), and the target column's value
`horizon_days` trading days after the window's last day.

Names only, no TensorFlow: the stock config imports them.
"""

# The daily columns every input file has.
PRICE_COLUMNS = ("open", "high", "low", "close")
DAILY_COLUMNS = (*PRICE_COLUMNS, "volume")
DATE_COLUMN = "date"
VOLUME_COLUMN = "volume"
TICKER_COLUMN = "ticker"
# Other names a file may give its ticker column: the notes' files call it `code`.
TICKER_ALIASES = (TICKER_COLUMN, "code", "symbol")

# Added to each window's tf.Example by the ExampleGen.
TARGET_KEY = "target"
TARGET_DATE_KEY = "target_date"
YEAR_KEY = "year"  # of the target day: the evaluation is sliced by it

# The last-close baseline predicts the next value from this column's last day.
LAST_CLOSE_COLUMN = "close"


def scaled_key(column: str) -> str:
    """The Transform output holding `column`'s window scaled for the model."""
    return f"{column}_scaled"


TARGET_SCALED_KEY = scaled_key(TARGET_KEY)
# Per window, price = offset + scale * scaled value: how the serving signature turns
# the model's output back into prices, whatever the scaling mode.
TARGET_OFFSET_KEY = "target_offset"
TARGET_SCALE_KEY = "target_scale"
