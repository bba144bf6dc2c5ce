import * as common from '@grafana/schema';
export declare const pluginVersion = "13.2.2";
export interface Options extends common.SingleStatBaseOptions {
    colorMode: common.BigValueColorMode;
    graphMode: common.BigValueGraphMode;
    justifyMode: common.BigValueJustifyMode;
    percentChangeColorMode: common.PercentChangeColorMode;
    showPercentChange: boolean;
    textMode: common.BigValueTextMode;
    wideLayout: boolean;
}
export declare const defaultOptions: Partial<Options>;
