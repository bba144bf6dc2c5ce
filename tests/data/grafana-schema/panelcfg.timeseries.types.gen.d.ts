import * as common from '@grafana/schema';
export declare const pluginVersion = "13.2.2";
export interface TimeSeriesLegendOptions extends common.VizLegendOptions {
    enableFacetedFilter?: boolean;
    facetedFilterPinned?: boolean;
}
export declare const defaultTimeSeriesLegendOptions: Partial<TimeSeriesLegendOptions>;
export interface Options extends common.OptionsWithTimezones, common.OptionsWithAnnotations {
    disableKeyboardEvents?: boolean;
    legend: TimeSeriesLegendOptions;
    orientation?: common.VizOrientation;
    timeCompare?: common.TimeCompareOptions;
    tooltip: common.VizTooltipOptions;
}
export interface FieldConfig extends common.GraphFieldConfig {
}
