import * as ui from '@grafana/schema';
export declare const pluginVersion = "13.2.2";
/**
 * @deprecated - use common in /packages/grafana-schema/src/common/table.cue instead i.e. `import { TableOptions } from '@grafana/schema';`
 */
export interface Options {
    /**
     * Controls the height of the rows
     */
    cellHeight?: ui.TableCellHeight;
    /**
     * If true, disables all keyboard events in the table. this is used when previewing a table (i.e. suggestions)
     */
    disableKeyboardEvents?: boolean;
    /**
     * Enable pagination on the table
     */
    enablePagination?: boolean;
    /**
     * Represents the index of the selected frame
     */
    frameIndex: number;
    /**
     * Defines the number of columns to freeze on the left side of the table
     */
    frozenColumns?: {
        left?: number;
    };
    /**
     * limits the maximum height of a row, if text wrapping or dynamic height is enabled
     */
    maxRowHeight?: number;
    /**
     * When pagination is enabled, sets a fixed number of rows per page. When unset, the page size is derived from the panel height.
     */
    pageSize?: number;
    /**
     * Controls whether the panel should show the header
     */
    showHeader: boolean;
    /**
     * Controls whether the header should show icons for the column types
     */
    showTypeIcons?: boolean;
    /**
     * Used to control row sorting
     */
    sortBy?: Array<ui.TableSortByFieldState>;
}
export declare const defaultOptions: Partial<Options>;
export interface FieldConfig extends ui.TableFieldOptions {
}
