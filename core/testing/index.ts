/**
 * `alived/testing`: what plugin authors test with, as ESLint's RuleTester
 * is for rules: CheckerTester and NotifierTester run a table of cases the
 * way the daemon runs the plugin, against the test servers below. Loaded by
 * tests only: the runtime SDK (`alived`) never imports this module.
 */
export { CheckerTester, type CaseOutcome, type CheckerCase, type CheckerTesterOptions, type ExpectedResult } from './checker-tester';
export { NotifierTester, SAMPLE_EVENT, type DeliveryOutcome, type NotifierCase, type NotifierCaseOutcome, type NotifierTesterOptions } from './notifier-tester';
export type { PluginUnderTest } from './snippet';
export {
  httpServer,
  httpsServer,
  makeCertificate,
  refusingPort,
  tcpServer,
  udpServer,
  type Certificate,
  type CertificateOptions,
  type HttpHandler,
  type ListenOptions,
  type ServerBehaviour,
  type ServerClock,
  type TestServer,
} from './test-servers';
