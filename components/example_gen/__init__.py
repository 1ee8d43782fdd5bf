"""Custom ExampleGens for input that TFX's standard ones do not read, and what they share.

layouts.py                  which files a data folder holds and how they split (no TensorFlow)
rejected_inputs.py          the one way an ExampleGen lists inputs it left out (no TensorFlow)
beam_executor.py            what the file and text ExampleGens' executors share: settings, rejected lines, empty splits
file_example_gen.py         one example per file: images, audio (FileBasedExampleGen + a Beam executor)
time_series_example_gen.py  windows of daily series, split by time
text_example_gen.py         examples from the lines of text files (word lists), split by a feature's hash
"""
