"""`tfpipe predict stock` says which day its forecast is for: counted in trading days after the file's last date."""

import datetime

from components.models.stock import prediction_inputs
from pipelines.config import apply_overrides
from pipelines.stock.config import StockConfig


def test_the_day_is_counted_in_trading_days_after_the_last_date():
    last = datetime.date(2017, 11, 10)  # a Friday: no weekday is guessed for it
    assert prediction_inputs.forecast_day(last, 1) == "the next trading day after 2017-11-10"
    assert prediction_inputs.forecast_day(last, 2) == "the 2nd trading day after 2017-11-10"
    assert prediction_inputs.forecast_day(last, 5) == "the 5th trading day after 2017-11-10"
    assert prediction_inputs.forecast_day(last, 13) == "the 13th trading day after 2017-11-10"
    assert prediction_inputs.forecast_day(last, 21) == "the 21st trading day after 2017-11-10"


def test_the_last_date_is_the_files_latest_whatever_the_row_order(tmp_path):
    prices = tmp_path / "prices.csv"
    prices.write_text(
        "date,open,high,low,close,volume\n"
        "2017-11-10,83.79,84.095,83.23,83.87,19396301\n"
        "2017-11-08,84.14,84.61,83.83,84.56,18029584\n"
        "2017-11-09,84.11,84.27,82.9,84.09,21175384\n"
    )
    config = apply_overrides(StockConfig(), ["horizon_days=3"])
    assert prediction_inputs.predicted_for(str(prices), StockConfig()) == "the next trading day after 2017-11-10"
    assert prediction_inputs.predicted_for(str(prices), config) == "the 3rd trading day after 2017-11-10"
