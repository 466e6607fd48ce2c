"""macOS service posture conditions: model, agent XML, launchd evidence, evaluation, logs.

Modules: ``model`` (frozen value types), ``files`` (condition files, pydantic), ``criteria``
(the ``& | ! ()`` expression language), ``agentxml`` (``<cleanmachines>`` both ways),
``launchd`` (streaming ``launchctl`` parsers), ``evaluate`` (the evaluator and its report),
``logread`` (log decoding, DART zips), ``logscan`` (Secure Client / ISE log extraction),
``iseaudit`` (ISE posture audit syslog) and ``collect`` (live runs and the collect script).
docs/posture.md describes the file format and the semantics.
"""
