"""``sagemaker_xgboost_container`` (the XGBoost image's toolkit) as stepfn provides it for script mode: reading
channels into DMatrix objects (``data_utils``), decoding request bodies (``encoder``) and single-host training
through ``distributed.rabit_run``. Standalone: it runs in the image's Python."""
