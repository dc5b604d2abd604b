export const PACKAGE_NAME = '@streamscope/instrumentation';
export const PACKAGE_VERSION = '0.1.0';
