// onnxruntime-node collects usage telemetry by default: a device id and an event database
// under ~/.cache/Microsoft/DeveloperTools, a /tmp/mat-debug-<pid>.log per run, and uploads
// to Microsoft's endpoint. edgecam sends nothing to anyone, so it is turned off here,
// before onnxruntime loads. Import this module before 'onnxruntime-node', in the main
// thread: a worker's process.env is its own copy, which the native library never reads.
process.env.ORT_DISABLE_TELEMETRY = '1';
export {};
