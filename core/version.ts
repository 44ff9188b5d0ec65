/** alived's version; package.json says the same, and a test keeps them equal. */
export const ALIVED_VERSION = '0.1.0';
