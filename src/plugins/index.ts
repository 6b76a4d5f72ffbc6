export { TARGETS, target, serverCommand, cliPath, SERVER_NAME, type Target, type TargetName } from './targets.js';
export { installPlugin, uninstallPlugin, isInstalled, filePath, type FileResult, type InstallOptions, type Outcome } from './install.js';
