export declare const NO_ADAPTER: string;
