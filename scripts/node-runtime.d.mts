export declare const NODE_VERSION: string;
